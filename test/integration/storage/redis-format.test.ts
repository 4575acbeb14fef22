import { randomBytes } from 'node:crypto';
import { RedisAdapter } from '../../../src/oidc/adapters/redis-adapter.js';
import { scratchRedis } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';

/**
 * How the Redis adapter stores models (issue 16: bytes per live session), and that it still reads
 * what an earlier release wrote: a rolling upgrade must not sign anyone out or let a revoked
 * grant's tokens live on.
 */
const id = () => randomBytes(32).toString('base64url').slice(0, 43);

(EMBEDDED ? describe.skip : describe)('Redis storage format', () => {
  const scratch = scratchRedis();
  const { redis, prefix } = scratch;
  const adapter = (model: string) => new RedisAdapter(redis, model, prefix);
  afterAll(() => scratch.close());

  it('keeps a model’s kind and id only in its key, shortens its longest field names, and gives all back on reading', async () => {
    const tokens = adapter('AccessToken');
    const jti = id();
    const payload = {
      kind: 'AccessToken',
      jti,
      accountId: 'acc',
      clientId: 'rp',
      scope: 'openid',
      gty: 'authorization_code refresh_token',
      sessionUid: id(),
      expiresWithSession: true,
      grantId: id(),
      claims: { userinfo: { grantId: null, G: null } },
    };
    await tokens.upsert(jti, payload, 60);
    const raw = (await redis.get(`${prefix}oidc:AccessToken:{${jti}}`))!;
    // The grant, session uid and flag first, whatever order the payload had them in.
    expect(raw.startsWith(`{"G":"${payload.grantId}","S":"${payload.sessionUid}","W":1,`)).toBe(true);
    const stored = JSON.parse(raw) as Record<string, unknown>;
    for (const field of ['kind', 'jti', 'accountId', 'clientId', 'grantId', 'sessionUid', 'expiresWithSession'])
      expect(stored).not.toHaveProperty(field);
    expect(stored).toMatchObject({ A: 'acc', C: 'rp', Y: 'c r', claims: payload.claims });
    expect(raw.length).toBeLessThan(JSON.stringify(payload).length - 60);
    expect(await tokens.find(jti)).toEqual(payload);
  });

  it('gives a session back with its clients’ entries whole', async () => {
    const [sessionId, uid, grantId] = [id(), id(), id()];
    const session = {
      kind: 'Session',
      jti: sessionId,
      uid,
      accountId: 'acc',
      loginTs: 1,
      amr: ['pwd'],
      acr: 'urn:monban:acr:pwd',
      authorizations: { rp: { sid: id(), grantId, persistsLogout: true }, other: { sid: id() } },
    };
    await adapter('Session').upsert(sessionId, session, 60);
    expect(JSON.parse((await redis.get(`${prefix}oidc:Session:{${sessionId}}`))!)).toMatchObject({ Q: '~pwd' });
    expect(await adapter('Session').find(sessionId)).toEqual(session);
    expect(await adapter('Session').findByUid(uid)).toEqual(session);
  });

  it('consumes a code written before the short names, keeping what a replay needs by their full names', async () => {
    const code = id();
    const grantId = id();
    const written = {
      iat: 1,
      exp: 2,
      clientId: 'rp',
      grantId,
      redirectUri: 'https://rp/cb',
      nonce: 'n',
      accountId: 'acc',
    };
    await redis.set(`${prefix}oidc:AuthorizationCode:{${code}}`, JSON.stringify(written), 'EX', 60);
    await adapter('AuthorizationCode').consume(code);
    const found = await adapter('AuthorizationCode').find(code);
    expect(found).toMatchObject({
      clientId: 'rp',
      grantId,
      redirectUri: 'https://rp/cb',
      consumed: expect.any(Number),
    });
    expect(found).not.toHaveProperty('nonce');
    expect(found).not.toHaveProperty('accountId');
  });

  it('reads a token, a consumed code and a session written in the earlier format', async () => {
    const jti = id();
    const token = { kind: 'AccessToken', jti, accountId: 'acc', clientId: 'rp', scope: 'openid' };
    await redis.set(`${prefix}oidc:AccessToken:{${jti}}`, JSON.stringify(token), 'EX', 60);
    expect(await adapter('AccessToken').find(jti)).toEqual(token);

    const code = id();
    const kept = { iat: 1, exp: 2, kind: 'AuthorizationCode', jti: code, clientId: 'rp' };
    await redis.set(`${prefix}oidc:AuthorizationCode:{${code}}`, `1700000000|${JSON.stringify(kept)}`, 'EX', 60);
    expect(await adapter('AuthorizationCode').find(code)).toEqual({ ...kept, consumed: 1700000000 });

    const [sessionId, uid] = [id(), id()];
    const session = { kind: 'Session', jti: sessionId, uid, accountId: 'acc' };
    await redis.set(`${prefix}oidc:Session:{${sessionId}}`, JSON.stringify(session), 'EX', 60);
    await redis.set(`${prefix}oidc:Session:uid:{${uid}}`, sessionId, 'EX', 60);
    expect(await adapter('Session').findByUid(uid)).toEqual(session);
  });

  it('indexes a grant’s tokens in a compact hash, and revokes tokens indexed the earlier way too', async () => {
    const grantId = id();
    const [fresh, code, legacy] = [id(), id(), id()];
    await adapter('AccessToken').upsert(fresh, { kind: 'AccessToken', jti: fresh, grantId }, 60);
    await adapter('AuthorizationCode').upsert(code, { kind: 'AuthorizationCode', jti: code, grantId }, 60);
    const index = `${prefix}oidc:Grant:tokens:{${grantId}}`;
    expect((await redis.hkeys(index)).sort()).toEqual([`AC:${code}`, `AT:${fresh}`]);
    expect(await redis.object('ENCODING', index)).toBe('listpack');

    // An access token saved by an earlier release: its full key in a set under oidc:grant.
    const legacyKey = `${prefix}oidc:AccessToken:{${legacy}}`;
    await redis.set(legacyKey, JSON.stringify({ kind: 'AccessToken', jti: legacy, grantId }), 'EX', 60);
    await redis.sadd(`${prefix}oidc:grant:{${grantId}}`, legacyKey);

    await adapter('AccessToken').revokeByGrantId(grantId);
    expect(await adapter('AccessToken').find(fresh)).toBeUndefined();
    expect(await adapter('AccessToken').find(legacy)).toBeUndefined();
    expect(await adapter('AuthorizationCode').find(code)).toBeDefined();
    await adapter('AuthorizationCode').revokeByGrantId(grantId);
    expect(await adapter('AuthorizationCode').find(code)).toBeUndefined();
  });
});
