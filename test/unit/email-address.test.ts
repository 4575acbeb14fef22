import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { emailProblem, isValidEmail, normalizeEmail } from '../../src/identity/accounts/email.js';
import { FreeMailDomains } from '../../src/identity/accounts/free-mail.js';
import { CodeHasher } from '../../src/security/codes.js';

describe('email addresses', () => {
  describe('normalizeEmail', () => {
    it('folds case and trims, so one address is one account', () => {
      expect(normalizeEmail('  Taro.Yamada@Example.COM ')).toBe('taro.yamada@example.com');
    });

    it('turns an internationalised domain into its punycode (xn--) form', () => {
      expect(normalizeEmail('ascii@例え.jp')).toBe('ascii@xn--r8jz45g.jp');
      expect(normalizeEmail('ASCII@例え.JP')).toBe('ascii@xn--r8jz45g.jp');
      expect(normalizeEmail('x@Bücher.de')).toBe('x@xn--bcher-kva.de');
      // The Unicode and the xn-- spelling are one address.
      expect(normalizeEmail('ascii@例え.jp')).toBe(normalizeEmail('ascii@xn--r8jz45g.jp'));
    });

    it('reads full-width input (a Japanese IME) as the ASCII it stands for', () => {
      expect(normalizeEmail('ｔａｒｏ＠ｅｘａｍｐｌｅ．ｃｏｍ')).toBe('taro@example.com');
    });
  });

  describe('emailProblem', () => {
    it.each([
      ['a plain address', 'taro@example.com'],
      ['capitals and spaces around it', '  Taro@Example.COM  '],
      ['+ and dots in the local part', 'taro.yamada+news@mail.example.co.jp'],
      ['an internationalised domain', 'ascii@例え.jp'],
      ['a punycode domain', 'ascii@xn--r8jz45g.jp'],
    ])('accepts %s', (_label, input) => {
      expect(emailProblem(input)).toBeUndefined();
      expect(isValidEmail(input)).toBe(true);
    });

    it.each([
      ['empty', '', 'EMAIL_REQUIRED'],
      ['only spaces', '   ', 'EMAIL_REQUIRED'],
      ['no @', 'taro.example.com', 'EMAIL_INVALID'],
      ['nothing before @', '@example.com', 'EMAIL_INVALID'],
      ['nothing after @', 'taro@', 'EMAIL_INVALID'],
      ['two @', 'taro@@example.com', 'EMAIL_INVALID'],
      ['a space inside', 'ta ro@example.com', 'EMAIL_INVALID'],
      ['no top-level domain', 'taro@localhost', 'EMAIL_INVALID'],
      ['two dots in a row', 'taro..yamada@example.com', 'EMAIL_INVALID'],
      ['markup', '<script>@example.com', 'EMAIL_INVALID'],
      ['a control character', 'ta\u0000ro@example.com', 'EMAIL_INVALID'],
      ['a Japanese local part', '山田@例え.jp', 'EMAIL_LOCAL_NOT_ASCII'],
      ['an accented local part', 'tarō@example.com', 'EMAIL_LOCAL_NOT_ASCII'],
    ])('refuses %s', (_label, input, code) => {
      expect(emailProblem(input)).toBe(code);
      expect(isValidEmail(input)).toBe(false);
    });

    /** A syntactically valid address of exactly `length` characters (64-character local part). */
    function addressOfLength(length: number): string {
      const local = 'a'.repeat(64);
      const labels: string[] = [];
      for (let left = length - local.length - 1 - '.com'.length; left > 0; left -= 64)
        labels.push('b'.repeat(Math.min(63, left)));
      const email = `${local}@${labels.join('.')}.com`;
      expect(email).toHaveLength(length);
      return email;
    }

    it('accepts 254 characters and refuses 255 (RFC 5321)', () => {
      expect(emailProblem(addressOfLength(254))).toBeUndefined();
      expect(emailProblem(addressOfLength(255))).toBe('EMAIL_TOO_LONG');
    });

    it('measures the length after the domain is turned into punycode', () => {
      const domain = '例え.jp';
      const local = 'a'.repeat(64);
      // Short as typed, longer once the domain is spelled in xn-- form: what is stored counts.
      const padding = 'b'.repeat(60);
      const typed = `${local}@${padding}.${padding}.${padding}.${domain}`;
      expect(typed.length).toBeLessThanOrEqual(254);
      expect(normalizeEmail(typed).length).toBeGreaterThan(254);
      expect(emailProblem(typed)).toBe('EMAIL_TOO_LONG');
    });
  });

  describe('free mail domains (partners need a business address)', () => {
    const freeMail = new FreeMailDomains('config/free-mail-domains.json', ['example-free.test'], path.resolve('.'));

    it('knows the big free services, their subdomains and configured extras', () => {
      expect(freeMail.size).toBeGreaterThan(1000);
      expect(freeMail.isFree('someone@gmail.com')).toBe(true);
      expect(freeMail.isFree('someone@GMAIL.com')).toBe(true);
      expect(freeMail.isFree('someone@yahoo.co.jp')).toBe(true);
      expect(freeMail.isFree('someone@mail.yahoo.co.jp')).toBe(true);
      expect(freeMail.isFree('someone@example-free.test')).toBe(true);
    });

    it('does not count a company domain, nor one that merely ends like a free one', () => {
      expect(freeMail.isFree('someone@kaisha.co.jp')).toBe(false);
      expect(freeMail.isFree('someone@notgmail.com')).toBe(false);
      expect(freeMail.isFree('someone@co.jp')).toBe(false);
    });
  });
});

describe('activation codes (X2)', () => {
  const codes = new CodeHasher(randomBytes(32));

  it('generates codes of the requested number of digits, not always the same', () => {
    for (const digits of [6, 8, 10]) {
      const code = codes.generate(digits);
      expect(code).toMatch(new RegExp(`^\\d{${digits}}$`));
    }
    const many = new Set(Array.from({ length: 50 }, () => codes.generate(6)));
    expect(many.size).toBeGreaterThan(45);
    // Leading zeros are kept: the code is digits, not a number.
    const withLeadingZero = Array.from({ length: 2000 }, () => codes.generate(6)).find((code) => code.startsWith('0'));
    expect(withLeadingZero).toHaveLength(6);
  });

  it('stores an HMAC, not the code, and the right code matches', () => {
    const code = codes.generate(6);
    const stored = codes.hash(code, 'flow-a');
    expect(stored).not.toContain(code);
    expect(codes.matches(code, 'flow-a', stored)).toBe(true);
  });

  it('binds a code to its flow: the same code for another flow does not match', () => {
    const code = '123456';
    expect(codes.matches(code, 'flow-b', codes.hash(code, 'flow-a'))).toBe(false);
    expect(codes.hash(code, 'flow-a')).not.toBe(codes.hash(code, 'flow-b'));
  });

  it('depends on the server key: another key gives another HMAC', () => {
    const other = new CodeHasher(randomBytes(32));
    expect(other.matches('123456', 'flow-a', codes.hash('123456', 'flow-a'))).toBe(false);
  });

  it('refuses a wrong, shorter or longer code', () => {
    const stored = codes.hash('123456', 'flow-a');
    for (const wrong of ['123457', '12345', '1234567', '', 'abcdef']) {
      expect(codes.matches(wrong, 'flow-a', stored)).toBe(false);
    }
  });

  it('tolerates spaces and full-width digits as people type or paste them', () => {
    const stored = codes.hash('123456', 'flow-a');
    for (const typed of [
      ' 123456 ',
      '123 456',
      '12 34 56',
      '１２３４５６',
      '１２３ ４５６',
      '123456\n',
      '123\u3000456',
    ]) {
      expect(codes.matches(typed, 'flow-a', stored)).toBe(true);
    }
  });
});
