import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { describeTotpSecret, newTotpSecret, totpStepFor } from '../../src/identity/factors/totp.js';
import { canonicalRecoveryCode } from '../../src/identity/factors/recovery-codes.js';
import { SecretBox } from '../../src/security/secret-box.js';

const box = new SecretBox(randomBytes(32));
const ACCOUNT = '7a1f2e3d-0000-4000-8000-000000000001';

/** An authenticator app, as independent of Monban's code as it gets: the otpauth package. */
function app(base32: string): OTPAuth.TOTP {
  return new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(base32), digits: 6, period: 30, algorithm: 'SHA1' });
}

describe('TOTP (L3, PR5)', () => {
  const secret = newTotpSecret(box, ACCOUNT, 'hanako@example.com');
  const now = Date.UTC(2026, 10, 23, 12, 0, 15);
  const step = Math.floor(now / 30_000);

  it('makes a 160-bit secret, sealed at rest, and an otpauth URI for Monban and the address', () => {
    expect(secret.base32).toMatch(/^[A-Z2-7]{32}$/); // RFC 4648 base32 of exactly 20 bytes, no padding
    expect(Buffer.from(OTPAuth.Secret.fromBase32(secret.base32).bytes).length).toBe(20);
    expect(secret.sealed).not.toContain(secret.base32);
    const uri = OTPAuth.URI.parse(secret.otpauthUrl) as OTPAuth.TOTP;
    expect(uri.issuer).toBe('Monban');
    expect(uri.label).toBe('hanako@example.com');
    expect(uri.secret.base32).toBe(secret.base32);
  });

  it('draws the 20 bytes of a secret uniformly from all 256 byte values (a CSPRNG), not from printable characters', () => {
    // speakeasy.generateSecret({ length: 20 }) base32-encodes 20 printable characters: 20 bytes
    // once decoded, but each one of 83 values (about 127 bits). Random bytes use all 256 values.
    const counts = new Array<number>(256).fill(0);
    const seen = new Set<string>();
    const secrets = 400;
    for (let i = 0; i < secrets; i += 1) {
      const { base32 } = newTotpSecret(box, ACCOUNT, 'hanako@example.com');
      const bytes = Buffer.from(OTPAuth.Secret.fromBase32(base32).bytes);
      expect(bytes.length).toBe(20);
      seen.add(base32);
      for (const byte of bytes) counts[byte]! += 1;
    }
    expect(seen.size).toBe(secrets);
    // 8,000 bytes: each value is expected ~31 times; missing any has a probability below 1e-11.
    expect(counts.filter((n) => n === 0)).toEqual([]);
    const high = counts.slice(128).reduce((a, b) => a + b, 0) / (secrets * 20);
    expect(high).toBeGreaterThan(0.45);
    expect(high).toBeLessThan(0.55);
    // Shannon entropy of the byte distribution: close to 8 bits per byte.
    const entropy = -counts.reduce(
      (sum, n) => (n ? sum + (n / (secrets * 20)) * Math.log2(n / (secrets * 20)) : sum),
      0,
    );
    expect(entropy).toBeGreaterThan(7.9);
  });

  it('accepts the code of now and of one step either side, and gives its time step', () => {
    for (const offset of [-1, 0, 1]) {
      const code = app(secret.base32).generate({ timestamp: now + offset * 30_000 });
      expect(totpStepFor(box, ACCOUNT, secret.sealed, code, now)).toBe(step + offset);
    }
  });

  it('refuses codes two steps away, wrong codes and malformed input', () => {
    for (const offset of [-2, 2]) {
      const code = app(secret.base32).generate({ timestamp: now + offset * 30_000 });
      expect(totpStepFor(box, ACCOUNT, secret.sealed, code, now)).toBeUndefined();
    }
    const right = app(secret.base32).generate({ timestamp: now });
    const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
    expect(totpStepFor(box, ACCOUNT, secret.sealed, wrong, now)).toBeUndefined();
    for (const input of ['', '12345', '1234567', 'abcdef'])
      expect(totpStepFor(box, ACCOUNT, secret.sealed, input, now)).toBeUndefined();
  });

  it('tolerates spaces and full-width digits as people type them', () => {
    const code = app(secret.base32).generate({ timestamp: now });
    const fullWidth = Array.from(code)
      .map((d) => String.fromCharCode(0xff10 + Number(d)))
      .join('');
    expect(totpStepFor(box, ACCOUNT, secret.sealed, `${code.slice(0, 3)} ${code.slice(3)}`, now)).toBe(step);
    expect(totpStepFor(box, ACCOUNT, secret.sealed, fullWidth, now)).toBe(step);
  });

  it('cannot open a secret sealed for another account', () => {
    const code = app(secret.base32).generate({ timestamp: now });
    expect(() => totpStepFor(box, 'another-account', secret.sealed, code, now)).toThrow();
  });

  it('shows the same secret and otpauth URI again from the sealed value (setup page reloaded)', () => {
    const again = describeTotpSecret(box, ACCOUNT, 'hanako@example.com', secret.sealed);
    expect(again.base32).toBe(secret.base32);
    expect(again.otpauthUrl).toBe(secret.otpauthUrl);
    expect(() => describeTotpSecret(box, 'another-account', 'hanako@example.com', secret.sealed)).toThrow();
  });

  it('reads recovery codes the way people type them', () => {
    expect(canonicalRecoveryCode('abcde-fghjk')).toBe('ABCDEFGHJK');
    expect(canonicalRecoveryCode(' O1ILO 23456 ')).toBe('0111023456');
  });
});
