import { randomBytes } from 'node:crypto';
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { KyselyAdapter } from '../../../src/oidc/adapters/kysely-adapter.js';
import { DirectModelWriter, GroupCommitModelWriter } from '../../../src/oidc/adapters/model-writes.js';
import { RedisAdapter } from '../../../src/oidc/adapters/redis-adapter.js';
import { connectRedis } from '../../../src/redis/client.js';
import { openScratchStorage, scratchRedis } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';
import { startRedisCluster } from '../../helpers/redis-cluster.js';

/**
 * One contract, every store oidc-provider may run on (OP5): Redis in production, PostgreSQL
 * without Redis, PGlite on the embedded default.
 */
interface Store {
  adapter(model: string): Adapter;
  close(): Promise<void>;
}

function redisStore(): Promise<Store> {
  const scratch = scratchRedis();
  return Promise.resolve({
    adapter: (model) => new RedisAdapter(scratch.redis, model, scratch.prefix),
    close: () => scratch.close(),
  });
}

/** A Redis Cluster of three masters of its own: every command must stay within one slot. */
async function redisClusterStore(): Promise<Store> {
  const cluster = await startRedisCluster();
  // One seed node in a redis+cluster:// URL is enough: the client finds the other masters.
  const client = connectRedis({ redisUrl: `redis+cluster://${cluster.nodes[0]!}` })!;
  return {
    adapter: (model) => new RedisAdapter(client, model, 'monban-test:'),
    close: async () => {
      await client.quit();
      await cluster.stop();
    },
  };
}

/** As the app runs it: on PGlite, every model's upserts go through one group commit. */
async function kyselyStore(kind: 'postgres' | 'pglite'): Promise<Store> {
  const storage = await openScratchStorage(kind);
  const { db } = storage.handle;
  const writer = kind === 'pglite' ? new GroupCommitModelWriter(db) : new DirectModelWriter(db);
  return { adapter: (model) => new KyselyAdapter(db, model, writer), close: () => storage.close() };
}

const stores: [string, () => Promise<Store>][] = EMBEDDED
  ? [['Kysely on PGlite', () => kyselyStore('pglite')]]
  : [
      ['Redis', redisStore],
      ['Redis Cluster', redisClusterStore],
      ['Kysely on PostgreSQL', () => kyselyStore('postgres')],
      ['Kysely on PGlite', () => kyselyStore('pglite')],
    ];

const id = () => randomBytes(12).toString('base64url');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(stores)('oidc-provider adapter contract: %s', (_name, open) => {
  let store: Store;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    await store?.close();
  });

  it('finds what it stored, and nothing for an unknown id', async () => {
    const key = id();
    const codes = store.adapter('AuthorizationCode');
    // As oidc-provider writes one: its kind and jti are the adapter's model and id.
    const payload: AdapterPayload = {
      accountId: 'acc-1',
      clientId: 'rp',
      grantId: 'g-1',
      scope: 'openid email',
      kind: 'AuthorizationCode',
      jti: key,
    };
    await codes.upsert(key, payload, 60);
    expect(await codes.find(key)).toEqual(payload);
    expect(await codes.find(id())).toBeUndefined();
  });

  it('keeps models of different kinds apart even under the same id', async () => {
    const key = id();
    await store.adapter('AccessToken').upsert(key, { kind: 'AccessToken' }, 60);
    expect(await store.adapter('RefreshToken').find(key)).toBeUndefined();
  });

  it('replaces a model on a second upsert', async () => {
    const sessions = store.adapter('Session');
    const key = id();
    await sessions.upsert(key, { uid: 'u1', accountId: 'a' }, 60);
    await sessions.upsert(key, { uid: 'u1', accountId: 'b' }, 60);
    expect((await sessions.find(key))?.accountId).toBe('b');
  });

  it('forgets a model once it expires', async () => {
    const interactions = store.adapter('Interaction');
    const key = id();
    await interactions.upsert(key, { kind: 'Interaction' }, 1);
    expect(await interactions.find(key)).toBeDefined();
    await sleep(2100);
    expect(await interactions.find(key)).toBeUndefined();
  });

  it('finds sessions by uid and device codes by user code', async () => {
    const sessions = store.adapter('Session');
    const sessionId = id();
    const uid = id();
    const session = { uid, accountId: 'a', kind: 'Session', jti: sessionId };
    await sessions.upsert(sessionId, session, 60);
    expect(await sessions.findByUid(uid)).toEqual(session);
    expect(await sessions.findByUid(id())).toBeUndefined();

    const deviceCodes = store.adapter('DeviceCode');
    const deviceId = id();
    await deviceCodes.upsert(deviceId, { userCode: 'ABCD-EFGH', clientId: 'tv' }, 60);
    expect((await deviceCodes.findByUserCode('ABCD-EFGH'))?.clientId).toBe('tv');
  });

  it('finds a session by uid under its new id once the id changed, and by uid no more once it expired', async () => {
    const sessions = store.adapter('Session');
    const [first, second, uid] = [id(), id(), id()];
    await sessions.upsert(first, { uid, accountId: 'a' }, 60);
    // A login gives the session a new id under the same uid (oidc-provider's resetIdentifier).
    await sessions.destroy(first);
    await sessions.upsert(second, { uid, accountId: 'a', loginTs: 1 }, 1);
    expect(await sessions.findByUid(uid)).toMatchObject({ accountId: 'a', loginTs: 1 });
    await sleep(2100);
    expect(await sessions.findByUid(uid)).toBeUndefined();
    expect(await sessions.find(second)).toBeUndefined();
  });

  it('marks a model consumed once and refuses a second consumption', async () => {
    const codes = store.adapter('AuthorizationCode');
    const key = id();
    await codes.upsert(key, { clientId: 'rp' }, 60);
    await codes.consume(key);
    expect((await codes.find(key))?.consumed).toEqual(expect.any(Number));
    await expect(codes.consume(key)).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  // A code's redemption race, and two answers to one WebAuthn challenge (which is deleted once taken).
  it.each([
    ['AuthorizationCode', { clientId: 'rp' }],
    ['PasskeyChallenge', { binding: 'interaction-1' }],
  ] as const)(
    'lets exactly one of many parallel consumers of a %s through, and none after it',
    async (model, payload) => {
      const models = store.adapter(model);
      const key = id();
      await models.upsert(key, payload, 60);
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => models.consume(key)));
      expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
      expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(19);
      const after = await models.find(key);
      expect(after === undefined || Boolean(after.consumed)).toBe(true);
      await expect(models.consume(key)).rejects.toMatchObject({ error: 'invalid_grant' });
    },
  );

  it('refuses to consume what does not exist', async () => {
    await expect(store.adapter('RefreshToken').consume(id())).rejects.toMatchObject({ error: 'invalid_grant' });
  });

  it('never un-consumes on a later upsert', async () => {
    const tokens = store.adapter('RefreshToken');
    const key = id();
    await tokens.upsert(key, { clientId: 'rp' }, 60);
    await tokens.consume(key);
    await tokens.upsert(key, { clientId: 'rp', scope: 'openid' }, 60);
    expect((await tokens.find(key))?.consumed).toBeTruthy();
  });

  it('destroys a model', async () => {
    const tokens = store.adapter('AccessToken');
    const key = id();
    await tokens.upsert(key, { clientId: 'rp' }, 60);
    await tokens.destroy(key);
    expect(await tokens.find(key)).toBeUndefined();
  });

  it('revokes every model of a grant and nothing else', async () => {
    const access = store.adapter('AccessToken');
    const refresh = store.adapter('RefreshToken');
    const code = store.adapter('AuthorizationCode');
    const grants = store.adapter('Grant');
    const [grant, other] = [id(), id()];
    const iat = Math.floor(Date.now() / 1000) - 5;
    await grants.upsert(grant, { accountId: 'acc', clientId: 'rp', iat }, 600);
    await grants.upsert(other, { accountId: 'acc', clientId: 'rp', iat }, 600);
    const [a1, a2, r1, c1, keep] = [id(), id(), id(), id(), id()];
    await access.upsert(a1, { grantId: grant, iat }, 60);
    await access.upsert(a2, { grantId: grant, iat }, 60);
    await refresh.upsert(r1, { grantId: grant, iat }, 600);
    await code.upsert(c1, { grantId: grant, iat }, 60);
    await access.upsert(keep, { grantId: other, iat }, 60);

    // What oidc-provider does when an app revokes an access token (RFC 7009): the grant stays.
    await Promise.all([access.revokeByGrantId(grant), refresh.revokeByGrantId(grant), code.revokeByGrantId(grant)]);

    expect(await access.find(a1)).toBeUndefined();
    expect(await access.find(a2)).toBeUndefined();
    expect(await refresh.find(r1)).toBeUndefined();
    expect(await code.find(c1)).toBeUndefined();
    expect(await access.find(keep)).toBeDefined();
    expect(await grants.find(grant)).toBeDefined();
    // The grant lives on: a token issued after the revocation is found.
    const later = id();
    await access.upsert(later, { grantId: grant, iat: iat + 10 }, 60);
    expect(await access.find(later)).toMatchObject({ grantId: grant });
  });
});
