import { createSecretKey, randomBytes } from 'node:crypto';
import { PasswordHasher } from '../../src/identity/password/hashing.js';

const hasher = new PasswordHasher(randomBytes(32), 4);

describe('password hashing', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const hash = await hasher.hash('Correct-Horse-Battery-9');
    expect(hash).toMatch(/^[\w-]{8}:\$2[aby]\$04\$/);
    expect(await hasher.verify('Correct-Horse-Battery-9', hash)).toBe(true);
    expect(await hasher.verify('Correct-Horse-Battery-8', hash)).toBe(false);
  });

  it('salts: the same password hashes differently each time', async () => {
    expect(await hasher.hash('Same-Password-123!')).not.toBe(await hasher.hash('Same-Password-123!'));
  });

  it("counts every character of a 60-character Japanese password (180 bytes, beyond bcrypt's 72)", async () => {
    const base = 'パスワードは十二文字以上六十文字以下で大文字小文字数字記号を含める必要がありますよね本当に長い';
    const long = `${base}あいうえおかきくけこさしすせそ`.slice(0, 60);
    expect(Array.from(long)).toHaveLength(60);
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
    const [id] = hash.split(':');
    const other = new PasswordHasher([{ id: id!, key: createSecretKey(randomBytes(32)) }], 4);
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

  describe('rotation: each hash names the pepper (MONBAN_SECRET) it was made with', () => {
    const a = { id: 'secret-a', key: createSecretKey(randomBytes(32)) };
    const b = { id: 'secret-b', key: createSecretKey(randomBytes(32)) };

    it('verifies a hash of an older pepper and asks for a rehash with the current one', async () => {
      const underA = await new PasswordHasher([a], 4).hash('Rotate-Me-2026!');
      expect(underA.startsWith('secret-a:$2')).toBe(true);
      const rotated = new PasswordHasher([b, a], 4);
      expect(await rotated.verify('Rotate-Me-2026!', underA)).toBe(true);
      expect(await rotated.verify('Rotate-Me-2027!', underA)).toBe(false);
      expect(rotated.needsRehash(underA)).toBe(true);
      const underB = await rotated.hash('Rotate-Me-2026!');
      expect(rotated.needsRehash(underB)).toBe(false);
      expect(await new PasswordHasher([b], 4).verify('Rotate-Me-2026!', underB)).toBe(true);
    });

    it('says no (after the same work) when the pepper that made the hash is not known', async () => {
      const underA = await new PasswordHasher([a], 4).hash('Rotate-Me-2026!');
      expect(await new PasswordHasher([b], 4).verify('Rotate-Me-2026!', underA)).toBe(false);
    });

    it('verifies a hash from before peppers were named with the legacy pepper, and upgrades it', async () => {
      const legacy = (await new PasswordHasher([a], 4).hash('Old-Hash-2025!')).slice('secret-a:'.length);
      const rotated = new PasswordHasher([b], 4, a.key);
      expect(await rotated.verify('Old-Hash-2025!', legacy)).toBe(true);
      expect(rotated.needsRehash(legacy)).toBe(true);
    });
  });
});

describe('password hashes beside the rest of the thread pool', () => {
  it("leave a thread to a token's signature while a burst of password checks waits", async () => {
    // Cost 12: each check takes long enough (about 0.2 s) that the order below is not a race.
    const slow = new PasswordHasher(randomBytes(32), 12);
    const hash = await slow.hash('Burst-Of-Logins-2026!');
    const { subtle } = globalThis.crypto;
    const key = await subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    const done: string[] = [];
    const checks = Array.from({ length: 8 }, () =>
      slow.verify('Burst-Of-Logins-2026!', hash).then(() => done.push('password check')),
    );
    // The checks are in the pool (or waiting for a slot) before the signature is asked for.
    await new Promise((resolve) => setTimeout(resolve, 20));
    await subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, new Uint8Array(32));
    done.push('signature');
    await Promise.all(checks);
    // Without a thread left free, the signature waits for the checks queued before it.
    expect(done[0]).toBe('signature');
  });
});
