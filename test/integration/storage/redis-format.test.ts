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
  // Opened in beforeAll: Jest runs a skipped describe's body too (not its hooks), and a
  // connection opened there would keep the embedded run's worker from exiting.
  let scratch: ReturnType<typeof scratchRedis>;
  let redis: ReturnType<typeof scratchRedis>['redis'];
  let prefix: string;
  beforeAll(() => {
    scratch = scratchRedis();
    ({ redis, prefix } = scratch);
  });
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
    const raw = (await redis.get(`${prefix}o:AT:{${jti}}`))!;
    // The grant and the session uid first, whatever order the payload had them in; `s` says the
    // token expires with that session.
    expect(raw.startsWith(`{"G":"${payload.grantId}","s":"${payload.sessionUid}",`)).toBe(true);
    const stored = JSON.parse(raw) as Record<string, unknown>;
    for (const field of ['kind', 'jti', 'accountId', 'clientId', 'grantId', 'sessionUid', 'expiresWithSession'])
      expect(stored).not.toHaveProperty(field);
    expect(stored).toMatchObject({ A: 'acc', C: 'rp', Y: 'c r', claims: payload.claims });
    expect(raw.length).toBeLessThan(JSON.stringify(payload).length - 60);
    expect(await tokens.find(jti)).toEqual(payload);
  });

  it('writes account ids, expiry, PKCE method and a grant’s scope in fewer bytes, and a consumed code keeps its redirect URI as it was', async () => {
    const [code, grantId] = [id(), id()];
    const accountId = '7e4026ed-1e53-4892-b55e-22966e241a66';
    const payload = {
      kind: 'AuthorizationCode',
      jti: code,
      grantId,
      iat: 1796430372,
      exp: 1796430432,
      accountId,
      clientId: 'rp',
      codeChallenge: 'x'.repeat(43),
      codeChallengeMethod: 'S256',
      redirectUri: 'https://rp.example/a/b\\/c?d=e/f',
      nonce: 'n',
    };
    const codes = adapter('AuthorizationCode');
    await codes.upsert(code, payload, 60);
    const raw = (await redis.get(`${prefix}o:AC:{${code}}`))!;
    expect(JSON.parse(raw)).toMatchObject({ T: 1796430372, E: 60, A: '~fkAm7R5TSJK1XiKWbiQaZg', K: 1 });
    expect(await codes.find(code)).toEqual(payload);

    await codes.consume(code);
    const consumed = (await redis.get(`${prefix}o:AC:{${code}}`))!;
    expect(consumed).toContain('"R":"https://rp.example/a/b\\\\/c?d=e/f"');
    const { nonce: _nonce, accountId: _accountId, ...kept } = payload;
    expect(await codes.find(code)).toEqual({ ...kept, consumed: expect.any(Number) });

    const grant = { kind: 'Grant', jti: grantId, iat: 1, exp: 2, openid: { scope: 'openid email', claims: ['sub'] } };
    await adapter('Grant').upsert(grantId, grant, 60);
    expect(JSON.parse((await redis.get(`${prefix}o:GR:{${grantId}}`))!)).toMatchObject({
      O: { P: 'openid email', claims: ['sub'] },
    });
    expect(await adapter('Grant').find(grantId)).toEqual(grant);
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
    expect(JSON.parse((await redis.get(`${prefix}o:SE:{${sessionId}}`))!)).toMatchObject({ Q: '~pwd' });
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

  it('moves a model an earlier release saved under its old key name to the new one, and deletes both names', async () => {
    const [sessionId, uid, refresh, grantId] = [id(), id(), id(), id()];
    const [oldSession, oldPointer] = [`${prefix}oidc:Session:{${sessionId}}`, `${prefix}oidc:Session:uid:{${uid}}`];
    await redis.set(oldSession, JSON.stringify({ uid, accountId: 'acc' }), 'EX', 60);
    await redis.set(oldPointer, sessionId, 'EX', 60);
    expect(await adapter('Session').find(sessionId)).toMatchObject({ uid, accountId: 'acc' });

    // Saved again: under the new name only, and found by its uid through the new pointer.
    await adapter('Session').upsert(
      sessionId,
      { kind: 'Session', jti: sessionId, uid, accountId: 'acc', loginTs: 5 },
      60,
    );
    expect(await redis.exists(oldSession)).toBe(0);
    expect(await redis.get(`${prefix}o:SE:u:{${uid}}`)).toBe(sessionId);
    await redis.del(oldPointer);
    expect(await adapter('Session').findByUid(uid)).toMatchObject({ loginTs: 5 });

    // A refresh token consumed under its old name stays consumed when saved again.
    await redis.set(`${prefix}oidc:RefreshToken:{${refresh}}`, `1700000000|${JSON.stringify({ grantId })}`, 'EX', 60);
    await adapter('RefreshToken').upsert(refresh, { kind: 'RefreshToken', jti: refresh, grantId }, 60);
    expect(await adapter('RefreshToken').find(refresh)).toMatchObject({ consumed: 1700000000 });
    expect(await redis.exists(`${prefix}oidc:RefreshToken:{${refresh}}`)).toBe(0);

    // A model under both names (an older process wrote the old one) is gone under both.
    await redis.set(oldSession, JSON.stringify({ uid, accountId: 'acc' }), 'EX', 60);
    await adapter('Session').destroy(sessionId);
    expect(await redis.exists(oldSession, `${prefix}o:SE:{${sessionId}}`)).toBe(0);
    expect(await adapter('Session').find(sessionId)).toBeUndefined();
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

  it('lists only refresh tokens in a grant’s index, and revokes tokens indexed the earlier ways too', async () => {
    const grantId = id();
    const [refresh, access, code, oldMember, legacy] = [id(), id(), id(), id(), id()];
    await adapter('RefreshToken').upsert(refresh, { kind: 'RefreshToken', jti: refresh, grantId }, 600);
    await adapter('AccessToken').upsert(access, { kind: 'AccessToken', jti: access, grantId }, 60);
    await adapter('AuthorizationCode').upsert(code, { kind: 'AuthorizationCode', jti: code, grantId }, 60);
    const index = `${prefix}o:GR:t:{${grantId}}`;
    expect(await redis.hkeys(index)).toEqual([`RT:${refresh}`]);
    expect(await redis.object('ENCODING', index)).toBe('listpack');

    // Saved by earlier releases: an access token in the hash under its old name, and one by its
    // full key in a set.
    const oldKey = `${prefix}oidc:AccessToken:{${oldMember}}`;
    await redis.set(oldKey, JSON.stringify({ grantId }), 'EX', 60);
    await redis.hset(`${prefix}oidc:Grant:tokens:{${grantId}}`, `AT:${oldMember}`, '');
    const legacyKey = `${prefix}oidc:AccessToken:{${legacy}}`;
    await redis.set(legacyKey, JSON.stringify({ kind: 'AccessToken', jti: legacy, grantId }), 'EX', 60);
    await redis.sadd(`${prefix}oidc:grant:{${grantId}}`, legacyKey);

    // No grant: nothing to mark; what the indexes list is deleted.
    await adapter('AccessToken').revokeByGrantId(grantId);
    await adapter('RefreshToken').revokeByGrantId(grantId);
    expect(await redis.exists(oldKey, legacyKey)).toBe(0);
    expect(await adapter('RefreshToken').find(refresh)).toBeUndefined();
    expect(await redis.exists(`${prefix}o:GR:r:{${grantId}}`)).toBe(0);
    // Left to run out: oidc-provider finds its grant gone.
    expect(await adapter('AccessToken').find(access)).toBeDefined();
  });

  it('marks a grant that outlives a revocation, and its tokens up to then are not found', async () => {
    const grantId = id();
    const now = Math.floor(Date.now() / 1000);
    await adapter('Grant').upsert(grantId, { kind: 'Grant', jti: grantId, iat: now - 5, clientId: 'rp' }, 600);
    const [before, after] = [id(), id()];
    await adapter('AccessToken').upsert(before, { kind: 'AccessToken', jti: before, grantId, iat: now - 5 }, 60);
    await adapter('AccessToken').upsert(after, { kind: 'AccessToken', jti: after, grantId, iat: now + 5 }, 60);

    await adapter('AccessToken').revokeByGrantId(grantId);
    const mark = `${prefix}o:GR:r:{${grantId}}`;
    expect(Number(await redis.get(mark))).toBeGreaterThanOrEqual(now);
    // As long as the grant lives, and no longer.
    expect(await redis.ttl(mark)).toBeGreaterThan(590);
    expect(await redis.ttl(mark)).toBeLessThanOrEqual(600);
    expect(await adapter('AccessToken').find(before)).toBeUndefined();
    expect(await adapter('AccessToken').find(after)).toMatchObject({ grantId });

    // Ending the grant takes its mark along.
    await adapter('Grant').destroy(grantId);
    expect(await redis.exists(mark)).toBe(0);
  });
});
