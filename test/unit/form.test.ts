import type { Context } from 'koa';
import { z } from 'zod';
import { AppError, FormError } from '../../src/errors.js';
import { checkbox, choice, parseForm, password, text } from '../../src/http/form.js';

// What a urlencoded form posted (koa-body puts it on ctx.request.body).
const posted = (body: unknown) => ({ request: { body } }) as unknown as Context;

describe('parseForm: one zod schema per form', () => {
  const form = z.object({
    email: text(10, { trim: true }),
    code: text(6, { nfkc: true }),
    password: password(),
    partner: checkbox('yes'),
    channel: choice(['email', 'sms'], 'email'),
  });

  it('shapes what was typed: trimmed, NFKC, cut to the limit; a password as typed', () => {
    expect(parseForm(ctx(), form)).toEqual({
      email: 'hanako@exa',
      code: '123456',
      password: ' Pass word ',
      partner: true,
      channel: 'sms',
    });
    function ctx() {
      return posted({
        email: '  hanako@example.com ',
        code: '１２３４５６７',
        password: ' Pass word ',
        partner: 'yes',
        channel: 'sms',
      });
    }
  });

  it('an unticked checkbox (not sent at all) is false; missing or repeated fields read as empty', () => {
    expect(parseForm(posted({ email: ['a', 'b'] }), form)).toEqual({
      email: '',
      code: '',
      password: '',
      partner: false,
      channel: 'email',
    });
    expect(parseForm(posted(undefined), form).partner).toBe(false);
    expect(parseForm(posted({ partner: 'on' }), form).partner).toBe(false);
    expect(parseForm(posted({ channel: 'fax' }), form).channel).toBe('email');
  });

  it("a schema's refusal is the form's localized error code", () => {
    const required = z.object({ code: text(6).pipe(z.string().min(1, 'CODE_REQUIRED')) });
    const refused = (() => {
      try {
        parseForm(posted({}), required);
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(AppError);
    expect(refused).toMatchObject({ code: 'CODE_REQUIRED', status: 400 });
    const both = z.object({
      given_name: text(10).pipe(z.string().min(1, 'NAME_REQUIRED')),
      country: text(2).pipe(z.string().min(1, 'COUNTRY_REQUIRED')),
    });
    expect(() => parseForm(posted({}), both)).toThrow(FormError);
  });
});
