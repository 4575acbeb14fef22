import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { commonPasswordsFile, loadCommonPasswords } from '../../src/identity/password/common-passwords.js';
import { PasswordHasher } from '../../src/identity/password/hashing.js';
import {
  emailPieces,
  passwordLength,
  PasswordPolicy,
  type PasswordPolicyConfig,
} from '../../src/identity/password/policy.js';

/** The seed's rules, exactly as a fresh install reads them from config/default.json. */
const defaults: PasswordPolicyConfig = loadConfig({ configDir: path.resolve('config'), env: {} }).passwordPolicy;
const hasher = new PasswordHasher(randomBytes(32), 4);
const common = loadCommonPasswords(defaults.minLength, defaults.maxLength);
// The other rules one by one, without the strength estimate (it has its own tests below): their
// boundary cases (12 x's, 60 a's) are deliberately easy to guess.
const policy = new PasswordPolicy({ ...defaults, minStrength: 0 }, common, hasher);
const withConfig = (changes: Partial<PasswordPolicyConfig>) =>
  new PasswordPolicy({ ...defaults, minStrength: 0, ...changes }, common, hasher);
const fullPolicy = new PasswordPolicy(defaults, common, hasher);

const EMAIL = 'someone@example.com';
/** Passes every rule: 12 characters, lower, upper, digit, symbol, nothing from the address. */
const GOOD_12 = 'Ab3$efghijkl';

const problems = (password: string, context: Parameters<PasswordPolicy['problems']>[1] = { email: EMAIL }) =>
  policy.problems(password, context);

const MINUTE = 60_000;

describe('password policy (PW1-PW7)', () => {
  it("uses the seed's rules by default", () => {
    expect(defaults).toEqual({
      minLength: 12,
      maxLength: 60,
      requireLower: true,
      requireUpper: true,
      requireDigit: true,
      requireSymbol: true,
      historySize: 8,
      rejectCommon: true,
      minStrength: 3,
      emailPieceMinLength: 3,
      minAgeSeconds: 3600,
      minAgeAppliesToReset: false,
    });
  });

  it('accepts a password that breaks no rule', async () => {
    expect(await problems(GOOD_12)).toEqual([]);
    expect(await problems('Kaisha-Pass-2026!')).toEqual([]);
    expect(await fullPolicy.problems('Kaisha-Pass-2026!', { email: EMAIL })).toEqual([]);
  });

  describe('strength (zxcvbn, minStrength 3): a common password dressed up is still common', () => {
    const full = (password: string, email = EMAIL) => fullPolicy.problems(password, { email });

    it.each(['Password123!', 'Welcome2024!', 'P@ssw0rd1234', 'Qwerty123456!', 'Iloveyou2024!'])(
      'refuses %s, which meets every character rule',
      async (password) => {
        expect(await problems(password)).toEqual([]); // the other rules alone let it through
        expect(await full(password)).toEqual(['PASSWORD_TOO_WEAK']);
      },
    );

    it('refuses keyboard runs with decorations', async () => {
      for (const password of ['Asdfghjkl123!', 'Zxcvbnm12345!', '1qaz2wsx3edc!Q'])
        expect([password, await full(password)]).toEqual([password, ['PASSWORD_TOO_WEAK']]);
    });

    it("counts the account's own address as guessable", async () => {
      expect(await full('Mizuki-Kawabata-7!', 'tanaka@example.com')).toEqual([]);
      // The same password for mizuki.kawabata@... holds their name: the email rule and strength both say so.
      expect(await full('Mizuki-Kawabata-7!', 'mizuki.kawabata@example.com')).toContain('PASSWORD_CONTAINS_EMAIL');
    });

    it('accepts passphrases and random passwords', async () => {
      for (const password of ['Kaisha-Pass-2026!', 'Blue-Ocean-Tide-42!', 'Momiji-Yama-2027!', 'kT7#vQ2$mW9p'])
        expect([password, await full(password)]).toEqual([password, []]);
    });

    it('is not run for a password the length rule or the list already refuses', async () => {
      expect(await full('Pass1!')).toEqual(['PASSWORD_TOO_SHORT']);
      expect(await full('g00dPa$$w0rD')).toEqual(['PASSWORD_COMMON']);
    });

    it('can be turned off (minStrength 0)', async () => {
      expect(await withConfig({ minStrength: 0 }).problems('Password123!', { email: EMAIL })).toEqual([]);
    });
  });

  describe('PW1 length: 12 to 60 Unicode code points after NFKC', () => {
    it('refuses 11 characters and accepts 12', async () => {
      expect(await problems(GOOD_12.slice(0, 11))).toEqual(['PASSWORD_TOO_SHORT']);
      expect(await problems(GOOD_12)).toEqual([]);
    });

    it('accepts 60 characters and refuses 61', async () => {
      const sixty = `Ab3$${'x'.repeat(56)}`;
      expect(sixty).toHaveLength(60);
      expect(await problems(sixty)).toEqual([]);
      expect(await problems(`${sixty}x`)).toEqual(['PASSWORD_TOO_LONG']);
    });

    it('counts an emoji as one character, not two UTF-16 units', async () => {
      const twelve = `Ab3$${'😀'.repeat(8)}`;
      const eleven = `Ab3$${'😀'.repeat(7)}`;
      expect(twelve).toHaveLength(20); // what String.length would (wrongly) count
      expect(passwordLength(twelve)).toBe(12);
      expect(await problems(twelve)).toEqual([]);
      expect(eleven.length).toBeGreaterThan(12);
      expect(await problems(eleven)).toEqual(['PASSWORD_TOO_SHORT']);
    });

    it('counts Japanese characters one each, at both ends of the range', async () => {
      const kanji = '安全な合言葉を毎日少しずつ変えて覚える'.repeat(4); // 19 x 4 characters
      expect(await problems(`Ab3$${kanji.slice(0, 8)}`)).toEqual([]);
      expect(await problems(`Ab3$${kanji.slice(0, 7)}`)).toEqual(['PASSWORD_TOO_SHORT']);
      const sixty = `Ab3$${kanji.slice(0, 56)}`;
      expect(Buffer.byteLength(sixty)).toBeGreaterThan(160);
      expect(await problems(sixty)).toEqual([]);
      expect(await problems(`Ab3$${kanji.slice(0, 57)}`)).toEqual(['PASSWORD_TOO_LONG']);
    });

    it('counts after NFKC: a ligature counts as the letters it stands for, e + combining accent as one', async () => {
      const ligature = 'Ab3$efghiﬃ'; // 10 code points as typed, "ffi" after NFKC
      expect(Array.from(ligature)).toHaveLength(10);
      expect(await problems(ligature)).toEqual([]);
      const combining = 'Ab3$fghijke\u0301'; // 12 code points as typed, 11 after NFKC composes é
      expect(Array.from(combining)).toHaveLength(12);
      expect(await problems(combining)).toEqual(['PASSWORD_TOO_SHORT']);
    });
  });

  describe('PW2 character classes', () => {
    it.each([
      ['a lower-case letter', 'AB3$EFGHIJKL', 'PASSWORD_NEEDS_LOWER'],
      ['an upper-case letter', 'ab3$efghijkl', 'PASSWORD_NEEDS_UPPER'],
      ['a digit', 'Abc$efghijkl', 'PASSWORD_NEEDS_DIGIT'],
      ['a symbol', 'Ab3defghijkl', 'PASSWORD_NEEDS_SYMBOL'],
    ])('refuses a password without %s, with that rule only', async (_label, password, code) => {
      expect(await problems(password)).toEqual([code]);
    });

    it('counts a space or an emoji as a symbol and a full-width digit as a digit', async () => {
      expect(await problems('Ab3 efghijkl')).toEqual([]);
      expect(await problems('Ab3😀efghijkl')).toEqual([]);
      expect(await problems('Ab３$efghijkl')).toEqual([]);
    });

    it('lets configuration switch a class rule off', async () => {
      expect(await withConfig({ requireSymbol: false }).problems('Ab3defghijkl', { email: EMAIL })).toEqual([]);
    });
  });

  describe('PW3 history: not one of the last 8 passwords', () => {
    const passwords = Array.from({ length: 9 }, (_, i) => `History-Pass-${i + 1}!`);
    let newestFirst: string[];
    beforeAll(async () => {
      // passwords[0] is the current password, passwords[8] the ninth-oldest.
      newestFirst = await Promise.all(passwords.map((password) => hasher.hash(password)));
    });

    it('refuses the current password and the 8th newest', async () => {
      expect(defaults.historySize).toBe(8);
      expect(await problems(passwords[0]!, { email: EMAIL, previousHashes: newestFirst })).toEqual([
        'PASSWORD_IN_HISTORY',
      ]);
      expect(await problems(passwords[7]!, { email: EMAIL, previousHashes: newestFirst })).toEqual([
        'PASSWORD_IN_HISTORY',
      ]);
    });

    it('accepts the 9th newest again, and a password never used', async () => {
      expect(await problems(passwords[8]!, { email: EMAIL, previousHashes: newestFirst })).toEqual([]);
      expect(await problems('History-Pass-10!', { email: EMAIL, previousHashes: newestFirst })).toEqual([]);
    });

    it('matches the history after NFKC, as the login does', async () => {
      const fullWidth = passwords[3]!.replace('4', '４');
      expect(await problems(fullWidth, { email: EMAIL, previousHashes: newestFirst })).toEqual(['PASSWORD_IN_HISTORY']);
    });
  });

  describe('PW4 common passwords', () => {
    const KNOWN = 'g00dPa$$w0rD'; // 12 characters, passes PW1/PW2/PW6, and is a leaked password

    it('ships a real list of at least 100,000 leaked passwords, loaded once', () => {
      expect(common.sourceSize).toBeGreaterThanOrEqual(100_000);
      expect(common.size).toBeGreaterThan(10_000);
      expect(loadCommonPasswords(defaults.minLength, defaults.maxLength)).toBe(common);
    });

    it('refuses a long password from the shipped file, whatever its case', async () => {
      const lines = readFileSync(commonPasswordsFile(), 'utf8')
        .split('\n')
        .map((line) => line.replace(/\r$/, ''));
      expect(lines).toContain(KNOWN);
      expect(await problems(KNOWN)).toEqual(['PASSWORD_COMMON']);
      expect(await problems('G00dpA$$W0Rd')).toEqual(['PASSWORD_COMMON']);
      expect(await problems('ｇ００ｄＰａ＄＄ｗ０ｒＤ')).toEqual(['PASSWORD_COMMON']); // full-width, same after NFKC
      expect(common.has('qwertyqwerty')).toBe(true);
      expect(common.has('QWERTYQWERTY')).toBe(true);
    });

    it('does not refuse a password that is not on the list', () => {
      expect(common.has('Kaisha-Pass-2026!')).toBe(false);
      expect(common.has(`${KNOWN}x`)).toBe(false);
    });

    it('can be switched off', async () => {
      expect(await withConfig({ rejectCommon: false }).problems(KNOWN, { email: EMAIL })).toEqual([]);
    });
  });

  describe('PW5 minimum age: not within 1 hour of the last change', () => {
    const now = new Date('2026-11-24T10:00:00Z');
    const changed = (minutesAgo: number) => new Date(now.getTime() - minutesAgo * MINUTE);

    it('refuses a change 59 minutes after the last one and accepts one after 61', async () => {
      expect(await problems(GOOD_12, { email: EMAIL, now, passwordChangedAt: changed(59) })).toEqual([
        'PASSWORD_CHANGED_TOO_RECENTLY',
      ]);
      expect(await problems(GOOD_12, { email: EMAIL, now, passwordChangedAt: changed(61) })).toEqual([]);
    });

    it('does not apply to a new account (no earlier change)', async () => {
      expect(await problems(GOOD_12, { email: EMAIL, now, passwordChangedAt: null })).toEqual([]);
    });

    it('does not block a reset by verified code unless configured to', async () => {
      const reset = { email: EMAIL, now, passwordChangedAt: changed(59), isReset: true };
      expect(defaults.minAgeAppliesToReset).toBe(false);
      expect(await problems(GOOD_12, reset)).toEqual([]);
      expect(await withConfig({ minAgeAppliesToReset: true }).problems(GOOD_12, reset)).toEqual([
        'PASSWORD_CHANGED_TOO_RECENTLY',
      ]);
      expect(
        await withConfig({ minAgeAppliesToReset: true }).problems(GOOD_12, {
          ...reset,
          passwordChangedAt: changed(61),
        }),
      ).toEqual([]);
    });
  });

  describe('PW6 no piece of the email address', () => {
    it('splits the local part on . _ - + and keeps pieces of 3 or more characters', () => {
      expect(emailPieces('Taro.Yamada+news@Example.com', 3)).toEqual(['taro.yamada+news', 'taro', 'yamada', 'news']);
      expect(emailPieces('ken_ito-sato@example.com', 3)).toEqual(['ken_ito-sato', 'ken', 'ito', 'sato']);
      expect(emailPieces('jo.li@example.com', 3)).toEqual(['jo.li']);
    });

    it.each([
      ['the whole local part', 'taro.yamada@example.com', 'Xx9!taro.yamada'],
      ['a piece before a dot', 'taro.yamada@example.com', 'Secure-TARO-77!'],
      ['a piece after a dot, other case', 'taro.yamada@example.com', 'My-Yamada-Key-7'],
      ['a piece after +', 'taro+news@example.com', 'Good-News-4-You!'],
      ['a piece between _ and -', 'ken_ito-sato@example.com', 'Sato-San-Pass-1!'],
      ['a 3-character piece', 'ann.bo@example.com', 'Zz-9-Ann-Secret'],
    ])('refuses %s', async (_label, email, password) => {
      expect(await problems(password, { email })).toEqual(['PASSWORD_CONTAINS_EMAIL']);
    });

    it('allows 2-character pieces and the domain', async () => {
      expect(await problems('Jo-Li-Secret-77!', { email: 'jo.li@example.com' })).toEqual([]);
      expect(await problems('Zz-9-Bo-Secret', { email: 'ann.bo@example.com' })).toEqual([]);
      expect(await problems('Example-Domain-7!', { email: 'taro@example.com' })).toEqual([]);
    });
  });

  describe('PW7 confirmation', () => {
    it('refuses two different entries and accepts two equal ones', async () => {
      expect(await problems(GOOD_12, { email: EMAIL, confirmation: `${GOOD_12}x` })).toEqual(['PASSWORD_MISMATCH']);
      expect(await problems(GOOD_12, { email: EMAIL, confirmation: '' })).toEqual(['PASSWORD_MISMATCH']);
      expect(await problems(GOOD_12, { email: EMAIL, confirmation: GOOD_12 })).toEqual([]);
    });
  });

  it('returns every broken rule at once, in a stable order', async () => {
    const now = new Date('2026-11-24T10:00:00Z');
    const context = {
      email: 'qwerty@example.com',
      confirmation: 'something else',
      now,
      passwordChangedAt: new Date(now.getTime() - MINUTE),
    };
    const expected = [
      'PASSWORD_NEEDS_UPPER',
      'PASSWORD_NEEDS_DIGIT',
      'PASSWORD_NEEDS_SYMBOL',
      'PASSWORD_CONTAINS_EMAIL',
      'PASSWORD_MISMATCH',
      'PASSWORD_COMMON',
      'PASSWORD_CHANGED_TOO_RECENTLY',
    ];
    expect(await problems('qwertyqwerty', context)).toEqual(expected);
    expect(await problems('qwertyqwerty', context)).toEqual(expected);
    expect(await problems('', { email: EMAIL, confirmation: 'x' })).toEqual([
      'PASSWORD_TOO_SHORT',
      'PASSWORD_NEEDS_LOWER',
      'PASSWORD_NEEDS_UPPER',
      'PASSWORD_NEEDS_DIGIT',
      'PASSWORD_NEEDS_SYMBOL',
      'PASSWORD_MISMATCH',
    ]);
    expect(await problems('a'.repeat(61), { email: EMAIL })).toEqual([
      'PASSWORD_TOO_LONG',
      'PASSWORD_NEEDS_UPPER',
      'PASSWORD_NEEDS_DIGIT',
      'PASSWORD_NEEDS_SYMBOL',
    ]);
  });

  it("gives the page's checklist the same numbers the server checks", () => {
    expect(fullPolicy.checklist()).toEqual({
      minLength: 12,
      maxLength: 60,
      requireLower: true,
      requireUpper: true,
      requireDigit: true,
      requireSymbol: true,
      emailPieceMinLength: 3,
      minStrength: 3,
    });
  });
});
