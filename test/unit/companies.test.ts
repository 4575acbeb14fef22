import { normalizeCorporateNumber } from '../../src/identity/companies/corporate-number.js';
import { normalizeDomain } from '../../src/identity/companies/domains.js';

describe('法人番号 (corporate number)', () => {
  it('accepts numbers whose check digit matches, typed with hyphens, spaces or full-width digits', () => {
    expect(normalizeCorporateNumber('7000012050002')).toBe('7000012050002'); // 国税庁
    expect(normalizeCorporateNumber('1180-3010-1877-1')).toBe('1180301018771');
    expect(normalizeCorporateNumber('７０００ ０１２０ ５０００２')).toBe('7000012050002');
  });
  it('refuses a wrong check digit, other lengths and letters', () => {
    expect(normalizeCorporateNumber('8000012050002')).toBeUndefined();
    expect(normalizeCorporateNumber('700001205000')).toBeUndefined();
    expect(normalizeCorporateNumber('70000120500021')).toBeUndefined();
    expect(normalizeCorporateNumber('7000O12050002')).toBeUndefined();
  });
});

describe('company domains', () => {
  it('stores a domain lowercased, without a trailing dot, IDNs in punycode', () => {
    expect(normalizeDomain(' Kaisha.CO.JP. ')).toBe('kaisha.co.jp');
    expect(normalizeDomain('例え.jp')).toBe('xn--r8jz45g.jp');
  });
  it('refuses what is not a domain', () => {
    for (const bad of ['localhost', 'a b.jp', '-x.jp', '192.168.0.1', '', 'x..jp', `${'a'.repeat(64)}.jp`])
      expect(normalizeDomain(bad)).toBeUndefined();
  });
});
