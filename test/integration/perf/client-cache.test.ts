import { randomBytes } from 'node:crypto';
import { invalidateClient } from '../../../src/oidc/clients/repository.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { createScratchDatabase } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';
import { authorizationUrl, registerClient, requestServiceToken, RP_CALLBACK } from '../../helpers/fixtures.js';

const NEW_CALLBACK = 'http://localhost:8976/new-callback';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether an instance accepts `redirectUri` for the client: the login's email step shows, or oidc-provider refuses it. */
async function accepts(t: TestApp, clientId: string, redirectUri: string): Promise<boolean> {
  const res = await fetch(authorizationUrl(t.issuer, clientId, { redirect_uri: redirectUri }).url, {
    redirect: 'manual',
  });
  const page = await res.text();
  if (res.status === 200 && page.includes('name="email"')) return true;
  if (res.status === 400) return false;
  throw new Error(`unexpected HTTP ${res.status}`);
}

async function setRedirectUris(t: TestApp, clientId: string, uris: string[]): Promise<void> {
  const row = await t.app.db
    .selectFrom('oidc_clients')
    .select('metadata')
    .where('client_id', '=', clientId)
    .executeTakeFirstOrThrow();
  await t.app.db
    .updateTable('oidc_clients')
    .set({ metadata: JSON.stringify({ ...row.metadata, redirect_uris: uris }), updated_at: new Date() })
    .where('client_id', '=', clientId)
    .execute();
}

/** Polls until every instance accepts the new redirect URI; returns how long it took. */
async function timeUntilAccepted(instances: TestApp[], clientId: string, began: number): Promise<number> {
  for (;;) {
    const answers = await Promise.all(instances.map((t) => accepts(t, clientId, NEW_CALLBACK)));
    if (answers.every(Boolean)) return performance.now() - began;
    if (performance.now() - began > 10_000) throw new Error('the change never reached every instance');
    await sleep(20);
  }
}

const transports: [string, Record<string, unknown>][] = [
  ['with Redis', {}],
  ['without Redis', { redisUrl: undefined }],
];

(EMBEDDED ? describe.skip : describe).each(transports)('clients cached in every process: %s', (_name, overrides) => {
  let a: TestApp;
  let b: TestApp;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const scratch = await createScratchDatabase();
    drop = () => scratch.drop();
    // Two instances of one deployment: the same database, Redis prefix and secret.
    const shared = {
      databaseUrl: scratch.url,
      redisKeyPrefix: `monban-test:${randomBytes(6).toString('hex')}:`,
      ...overrides,
    };
    a = await startTestApp({ overrides: shared });
    b = await startTestApp({ overrides: shared });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await drop();
  });

  it('a changed redirect URI takes effect on every instance within a second', async () => {
    const client = await registerClient(a.app);
    // Both instances have read the client and keep it.
    for (const t of [a, b]) {
      expect(await accepts(t, client.client_id, RP_CALLBACK)).toBe(true);
      expect(await accepts(t, client.client_id, NEW_CALLBACK)).toBe(false);
    }

    await setRedirectUris(a, client.client_id, [NEW_CALLBACK]);
    const began = performance.now();
    await invalidateClient(a.app.changes, client.client_id);
    expect(await timeUntilAccepted([a, b], client.client_id, began)).toBeLessThan(1000);
    for (const t of [a, b]) expect(await accepts(t, client.client_id, RP_CALLBACK)).toBe(false);
  });

  it('a client is read from the database once, not at every request', async () => {
    const client = await registerClient(a.app, { grants: ['client_credentials'] });
    await sleep(200); // the creation's own notice has reached b
    expect((await requestServiceToken(b.issuer, client)).status).toBe(200);
    const { log } = await b.app.counters.measure(async () => {
      for (let i = 0; i < 10; i += 1) expect((await requestServiceToken(b.issuer, client)).status).toBe(200);
    });
    expect(log.filter((line) => line.includes('oidc_clients'))).toEqual([]);
  });

  it('a client created after an instance was asked for its id works there at once', async () => {
    const clientId = randomBytes(16).toString('base64url');
    // An instance that was asked for an id no client has remembers that none has it...
    expect((await requestServiceToken(b.issuer, { client_id: clientId, client_secret: 'x' })).status).toBe(401);
    const created = await registerClient(a.app, { grants: ['client_credentials'] });
    // ...and a deleted client stops working everywhere.
    expect((await requestServiceToken(b.issuer, created)).status).toBe(200);
    await a.app.db.deleteFrom('oidc_clients').where('client_id', '=', created.client_id).execute();
    await invalidateClient(a.app.changes, created.client_id);
    await sleep(200);
    expect((await requestServiceToken(b.issuer, created)).status).toBe(401);
  });
});

(EMBEDDED ? describe.skip : describe)('clients cached without a published change', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ overrides: { clientCacheSeconds: 1 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('are read again once the safety lifetime is over', async () => {
    const client = await registerClient(t.app);
    // The clock is held, so a slow machine cannot run the lifetime out before the kept copy is checked.
    const realNow = Date.now;
    let now = realNow();
    Date.now = () => now;
    try {
      expect(await accepts(t, client.client_id, NEW_CALLBACK)).toBe(false);
      await setRedirectUris(t, client.client_id, [NEW_CALLBACK]);
      expect(await accepts(t, client.client_id, NEW_CALLBACK)).toBe(false); // still the kept copy
      now += 999;
      expect(await accepts(t, client.client_id, NEW_CALLBACK)).toBe(false);
      now += 2;
      expect(await accepts(t, client.client_id, NEW_CALLBACK)).toBe(true);
    } finally {
      Date.now = realNow;
    }
  });
});
