import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadMasterSecret, MasterSecret } from '../../src/security/master-secret.js';
import { SecretBox } from '../../src/security/secret-box.js';

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
    const body = Buffer.from(parts[2]!, 'base64url');
    body[0] = body[0]! ^ 1;
    expect(() => box.open(`${parts[0]}.${parts[1]}.${body.toString('base64url')}`, 'ctx')).toThrow();
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
    expect(() => loadMasterSecret({ secret: Buffer.alloc(16).toString('hex'), dataDir: 'memory://' })).toThrow(/32 bytes/);
  });
});
