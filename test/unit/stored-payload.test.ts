import type { AdapterPayload } from 'oidc-provider';
import { decodePayload, encodePayload } from '../../src/oidc/adapters/stored-payload.js';

const ACCOUNT = '3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8';
const JTI = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ';

/** A refresh token as oidc-provider hands it to the adapter after a login. */
function refreshToken(overrides: Record<string, unknown> = {}): AdapterPayload {
  return {
    iat: 1796500000,
    exp: 1797709600,
    accountId: ACCOUNT,
    acr: 'urn:monban:acr:password',
    amr: ['pwd'],
    authTime: 1796499990,
    scope: 'openid email offline_access',
    sessionUid: 'hs7Gd9Kq0pLm2nB4vC6xZ',
    grantId: 'Qm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTA',
    gty: 'authorization_code refresh_token',
    codeChallengeMethod: 'S256',
    clientId: 'app',
    kind: 'RefreshToken',
    jti: JTI,
    ...overrides,
  };
}

describe('what the Redis adapter stores of a payload (issue 16: bytes per session)', () => {
  it('reads back the payload it wrote, shorter than its JSON', () => {
    const payload = refreshToken();
    const stored = encodePayload(payload, 'RefreshToken', JTI);
    expect(stored.length).toBeLessThan(JSON.stringify(payload).length * 0.75);
    expect(stored).not.toContain(ACCOUNT);
    expect(decodePayload(stored, 'RefreshToken', JTI)).toEqual(payload);
  });

  it('reads the same account back for many different accounts (ids are converted both ways)', () => {
    const accounts = Array.from({ length: 50 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const stored = accounts.map((accountId) => encodePayload(refreshToken({ accountId }), 'RefreshToken', JTI));
    expect(new Set(stored).size).toBe(accounts.length);
    expect(stored.map((value) => decodePayload(value, 'RefreshToken', JTI)?.accountId)).toEqual(accounts);
  });

  it('keeps a token bound to its session bound, its consumed mark and a value it does not shorten', () => {
    const payload = refreshToken({ expiresWithSession: true, gty: 'device_code', acr: 'urn:other:acr', nonce: 'n' });
    const stored = `1796500100|${encodePayload(payload, 'RefreshToken', JTI)}`;
    expect(decodePayload(stored, 'RefreshToken', JTI)).toEqual({ ...payload, consumed: 1796500100 });
  });

  it('reads a payload written with full names before, as it is', () => {
    const payload = refreshToken();
    expect(decodePayload(JSON.stringify(payload), 'RefreshToken', JTI)).toEqual(payload);
  });

  it("keeps a kind and jti that are not the key's own", () => {
    const payload = refreshToken({ kind: 'ClientCredentials', jti: 'other' });
    expect(decodePayload(encodePayload(payload, 'AccessToken', JTI), 'AccessToken', JTI)).toEqual(payload);
  });

  it('reads nothing as nothing', () => {
    expect(decodePayload(null, 'RefreshToken', JTI)).toBeUndefined();
  });
});
