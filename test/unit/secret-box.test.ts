import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createCipheriv } from 'node:crypto';
import { Keyring, loadKeyring, loadMasterSecret, MasterSecret } from '../../src/security/master-secret.js';
import { SecretBox, UnknownSealingKeyError } from '../../src/security/secret-box.js';

describe('secrets at rest', () => {
  const box = new SecretBox(randomBytes(32));

  it('seals and opens a value, and the sealed text does not contain it', () => {
    const sealed = box.seal('client-secret-value', 'client_secret:abc');
    expect(sealed).not.toContain('client-secret-value');
    expect(box.openText(sealed, 'client_secret:abc')).toBe('client-secret-value');
  });

  it('refuses a sealed value moved to another row (bound context)', () => {
    const sealed = box.seal('secret', 'client_secret:abc');
    expect(() => box.open(sealed, 'client_secret:xyz')).toThrow();
  });

  it('refuses a tampered value', () => {
    const sealed = box.seal('secret', 'ctx');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3]!, 'base64url');
    body[0] = body[0]! ^ 1;
    expect(() => box.open([parts[0], parts[1], parts[2], body.toString('base64url')].join('.'), 'ctx')).toThrow(
      /authenticate/,
    );
  });

  it('refuses another key', () => {
    expect(() => new SecretBox(randomBytes(32)).open(box.seal('secret', 'ctx'), 'ctx')).toThrow();
  });

  it('derives different keys for different purposes', () => {
    const master = new MasterSecret(randomBytes(32));
    expect(master.derive('seal').equals(master.derive('password-pepper'))).toBe(false);
    expect(master.derive('seal').equals(master.derive('seal'))).toBe(true);
    expect(JSON.stringify({ master })).not.toMatch(/[A-Za-z0-9+/]{40}/);
  });

  it('generates the embedded master secret once, private to the owner, and reuses it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'monban-'));
    const first = loadMasterSecret({ dataDir: dir });
    const file = path.join(dir, 'master.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = loadMasterSecret({ dataDir: dir });
    expect(second.derive('seal').equals(first.derive('seal'))).toBe(true);
    expect(readFileSync(file, 'utf8').trim().length).toBeGreaterThanOrEqual(43);
  });

  it('refuses a configured secret shorter than 32 bytes', () => {
    expect(() => loadMasterSecret({ secret: Buffer.alloc(16).toString('hex'), dataDir: 'memory://' })).toThrow(
      /32 bytes/,
    );
  });

  describe('rotation (MONBAN_SECRET lists the current secret first, then older ones)', () => {
    const a = new MasterSecret(randomBytes(32));
    const b = new MasterSecret(randomBytes(32));
    const boxOf = (...secrets: [MasterSecret, ...MasterSecret[]]) => new SecretBox(new Keyring(secrets).derive('seal'));

    it('names the sealing secret, opens with any listed one, and seals new values with the first', () => {
      const underA = boxOf(a).seal('client-secret', 'ctx');
      expect(underA.split('.')[1]).toBe(a.id);
      const rotated = boxOf(b, a);
      expect(rotated.openText(underA, 'ctx')).toBe('client-secret');
      expect(rotated.isCurrent(underA)).toBe(false);
      const resealed = rotated.reseal(underA, 'ctx');
      expect(resealed.split('.')[1]).toBe(b.id);
      expect(boxOf(b).openText(resealed, 'ctx')).toBe('client-secret');
      expect(rotated.reseal(resealed, 'ctx')).toBe(resealed);
    });

    it('says which secret is missing when a value was sealed with an unlisted one', () => {
      expect(() => boxOf(b).open(boxOf(a).seal('x', 'ctx'), 'ctx')).toThrow(UnknownSealingKeyError);
      expect(() => boxOf(b).open(boxOf(a).seal('x', 'ctx'), 'ctx')).toThrow(a.id);
    });

    it('opens values sealed before they named their secret (v1) with whichever listed secret made them', () => {
      const key = a.derive('seal');
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from('ctx'));
      const body = Buffer.concat([cipher.update('old'), cipher.final(), cipher.getAuthTag()]);
      const v1 = `v1.${iv.toString('base64url')}.${body.toString('base64url')}`;
      expect(boxOf(b, a).openText(v1, 'ctx')).toBe('old');
      expect(boxOf(b, a).keyIdOf(v1, 'ctx')).toBe(a.id);
      expect(() => boxOf(b).open(v1, 'ctx')).toThrow();
    });

    it('reads a comma-separated MONBAN_SECRET, current first, and refuses a secret listed twice', () => {
      const first = randomBytes(32).toString('base64');
      const second = randomBytes(32).toString('hex');
      const ring = loadKeyring({ secret: `${first}, ${second}`, dataDir: 'memory://' });
      expect(ring.secrets.map((s) => s.id)).toEqual([
        new MasterSecret(Buffer.from(first, 'base64')).id,
        new MasterSecret(Buffer.from(second, 'hex')).id,
      ]);
      expect(() => loadKeyring({ secret: `${first},${first}`, dataDir: 'memory://' })).toThrow(/twice/);
      expect(JSON.stringify({ ring })).not.toContain(first);
    });
  });
});
