import { createHmac } from 'node:crypto';
import { CookieSigner } from '../../src/security/cookie-signer.js';

/** Keygrip's format, which cookies signed before this signer was used carry: HMAC-SHA1, url-safe base64, no padding. */
const keygripSign = (data: string, key: string) =>
  createHmac('sha1', key)
    .update(data)
    .digest('base64')
    .replace(/\/|\+|=/g, (c) => ({ '/': '_', '+': '-', '=': '' })[c]!);

describe('cookie signatures', () => {
  const data = 'monban_interaction=abc123';

  it('signs as Keygrip did with the first key, and accepts a cookie signed with any listed key', () => {
    const signer = new CookieSigner(['new-key', 'old-key']);
    expect(signer.sign(data)).toBe(keygripSign(data, 'new-key'));
    expect(signer.index(data, keygripSign(data, 'new-key'))).toBe(0);
    expect(signer.index(data, keygripSign(data, 'old-key'))).toBe(1);
    expect(signer.verify(data, keygripSign(data, 'old-key'))).toBe(true);
  });

  it('refuses a signature by an unknown key, for other data, cut short, or written differently', () => {
    const signer = new CookieSigner(['new-key', 'old-key']);
    const good = signer.sign(data);
    expect(signer.index(data, keygripSign(data, 'stolen-key'))).toBe(-1);
    expect(signer.verify(`${data}x`, good)).toBe(false);
    expect(signer.verify(data, good.slice(0, -2))).toBe(false);
    expect(signer.verify(data, `${good}=`)).toBe(false);
    expect(signer.verify(data, `${good.slice(0, 5)}.${good.slice(5)}`)).toBe(false);
    expect(signer.verify(data, '')).toBe(false);
  });

  it('keeps judging a value the same once it has seen it signed', () => {
    const signer = new CookieSigner(['new-key', 'old-key']);
    const other = 'monban_session=def456';
    expect(signer.index(other, keygripSign(other, 'old-key'))).toBe(1);
    expect(signer.index(other, keygripSign(other, 'stolen-key'))).toBe(-1);
    expect(signer.index(other, keygripSign(other, 'new-key'))).toBe(0);
    // Now from memory: the same answers, and a signature for another value is no key's.
    expect(signer.index(other, keygripSign(other, 'new-key'))).toBe(0);
    expect(signer.index(other, keygripSign(other, 'old-key'))).toBe(1);
    expect(signer.index(other, keygripSign(other, 'stolen-key'))).toBe(-1);
    expect(signer.index(other, keygripSign(data, 'new-key'))).toBe(-1);
    expect(signer.sign(other)).toBe(keygripSign(other, 'new-key'));
  });

  it('needs a key', () => {
    expect(() => new CookieSigner([])).toThrow('at least one key');
  });
});
