import { randomBytes } from 'node:crypto';
import { PasswordHasher } from '../../src/identity/password/hashing.js';

const hasher = new PasswordHasher(randomBytes(32), 4);

describe('password hashing', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hasher.hash('Correct-Horse-Battery-9');
    expect(hash).toMatch(/^\$2[aby]\$04\$/);
    expect(await hasher.verify('Correct-Horse-Battery-9', hash)).toBe(true);
    expect(await hasher.verify('Correct-Horse-Battery-8', hash)).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    expect(await hasher.hash('Same-Password-123!')).not.toBe(await hasher.hash('Same-Password-123!'));
  });

  it('counts every character of a 60-character Japanese password (180 bytes, beyond bcrypt\'s 72)', async () => {
    const base = 'パスワードは十二文字以上六十文字以下で大文字小文字数字記号を含める必要がありますよね本当に長い';
    const long = `${base}あいうえおかきくけこさしすせそ`.slice(0, 60);
    expect([...long]).toHaveLength(60);
    expect(Buffer.byteLength(long)).toBe(180);
    // Differs from `long` only in its last character, far past byte 72.
    const lastDiffers = `${long.slice(0, 59)}ん`;
    const hash = await hasher.hash(long);
    expect(await hasher.verify(long, hash)).toBe(true);
    expect(await hasher.verify(lastDiffers, hash)).toBe(false);
  });

  it('does not truncate long ASCII passwords either', async () => {
    const long = 'A1!'.padEnd(100, 'x');
    const hash = await hasher.hash(long);
    expect(await hasher.verify(`${long.slice(0, 99)}y`, hash)).toBe(false);
  });

  it('treats canonically equivalent input alike (NFKC), so a full-width digit matches', async () => {
    const hash = await hasher.hash('Tokyo-Station-2026!');
    expect(await hasher.verify('Tokyo-Station-２０２６!', hash)).toBe(true);
  });

  it('depends on the pepper: a hash made with another pepper does not verify', async () => {
    const hash = await hasher.hash('Pepper-Matters-77!');
    const other = new PasswordHasher(randomBytes(32), 4);
    expect(await other.verify('Pepper-Matters-77!', hash)).toBe(false);
  });

  it('does the same bcrypt work for an unknown account and always says no', async () => {
    await expect(hasher.verifyAgainstNothing('anything')).resolves.toBe(false);
  });

  it('asks for a rehash when the configured cost changed', async () => {
    const hash = await hasher.hash('Rehash-Me-Please-1!');
    expect(hasher.needsRehash(hash)).toBe(false);
    expect(new PasswordHasher(randomBytes(32), 5).needsRehash(hash)).toBe(true);
  });
});
