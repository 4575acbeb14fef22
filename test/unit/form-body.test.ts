import type { Context } from 'koa';
import { z } from 'zod';
import { parseForm, text } from '../../src/http/form.js';
import { parseFormFields } from '../../src/http/form-body.js';

describe('parseFormFields: a urlencoded body as a browser sends it', () => {
  it('decodes names and values as browsers encode them (+ for space, UTF-8 percent escapes)', () => {
    expect({
      ...parseFormFields('email=hanako%40example.com&name=%E5%B1%B1%E7%94%B0+%E8%8A%B1%E5%AD%90&empty='),
    }).toEqual({ email: 'hanako@example.com', name: '山田 花子', empty: '' });
  });

  it('keeps a repeated name as its values in order, which the form fields then read as empty', () => {
    const fields = parseFormFields('email=a%40example.com&email=b%40example.com&email=c');
    expect(fields.email).toEqual(['a@example.com', 'b@example.com', 'c']);
    const posted = { request: { body: fields } } as unknown as Context;
    expect(parseForm(posted, z.object({ email: text(100) }))).toEqual({ email: '' });
  });

  it('gives names like __proto__ no way to Object.prototype', () => {
    const fields = parseFormFields('__proto__=x&constructor=y&toString=z&__proto__%5Bpolluted%5D=1');
    expect(Object.keys(fields).sort()).toEqual(['__proto__', '__proto__[polluted]', 'constructor', 'toString']);
    expect(fields.__proto__).toBe('x');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(typeof ({} as { toString: unknown }).toString).toBe('function');
  });

  it('reads broken escapes as text instead of failing, and nested names as plain names', () => {
    const fields = parseFormFields('given_name=%ZZ&family_name=%E0%A4%A&country[a]=JP');
    expect(fields.given_name).toBe('%ZZ');
    expect(fields.family_name).toBe('\uFFFD%A');
    expect(fields.country).toBeUndefined();
    expect(fields['country[a]']).toBe('JP');
  });
});
