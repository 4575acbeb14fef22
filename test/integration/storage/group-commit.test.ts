import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '../../../src/db/database.js';
import { migrateToLatest } from '../../../src/db/migrate.js';
import { KyselyAdapter } from '../../../src/oidc/adapters/kysely-adapter.js';
import { GroupCommitModelWriter } from '../../../src/oidc/adapters/model-writes.js';
import { StorageCounters } from '../../../src/observability/storage-counters.js';
import { scratchStorageForSuite, STORAGE_KINDS } from '../../helpers/databases.js';

/**
 * The embedded default saves oidc-provider models with group commit: saves issued together
 * share one statement, and each resolves once that statement committed. It must lose nothing
 * and mix nothing up, on PGlite where the app uses it and on PostgreSQL where it also works.
 */
const id = () => randomBytes(12).toString('base64url');

describe.each(STORAGE_KINDS)('group commit of oidc-provider models on %s', (kind) => {
  const storage = scratchStorageForSuite(kind);
  let writer: GroupCommitModelWriter;
  beforeAll(() => {
    writer = new GroupCommitModelWriter(storage.db);
  });
  const adapter = (model: string) => new KyselyAdapter(storage.db, model, writer);

  it('lands every one of 50 parallel saves of two kinds, each readable once its save resolved', async () => {
    const keys = Array.from({ length: 50 }, () => id());
    await Promise.all(
      keys.map(async (key, i) => {
        const model = i % 2 ? 'AccessToken' : 'ClientCredentials';
        await adapter(model).upsert(key, { kind: model, jti: key, n: i }, 60);
        expect(await adapter(model).find(key)).toMatchObject({ jti: key, n: i });
      }),
    );
    for (const [i, key] of keys.entries()) {
      expect(await adapter(i % 2 ? 'AccessToken' : 'ClientCredentials').find(key)).toMatchObject({ n: i });
      expect(await adapter(i % 2 ? 'ClientCredentials' : 'AccessToken').find(key)).toBeUndefined();
    }
  });

  it('keeps the consumed mark when one model is saved twice at once, and the later payload', async () => {
    const codes = adapter('AuthorizationCode');
    const [first, second] = [id(), id()];
    await Promise.all([
      codes.upsert(first, { clientId: 'rp', consumed: 1 }, 60),
      codes.upsert(first, { clientId: 'rp', scope: 'later' }, 60),
      codes.upsert(second, { clientId: 'rp' }, 60),
      codes.upsert(second, { clientId: 'rp', scope: 'later', consumed: 1 }, 60),
    ]);
    expect(await codes.find(first)).toMatchObject({ scope: 'later', consumed: expect.any(Number) });
    expect(await codes.find(second)).toMatchObject({ scope: 'later', consumed: expect.any(Number) });
  });

  it('fails only the save the database refuses, not the others saved with it', async () => {
    const tokens = adapter('AccessToken');
    const [good, bad, alsoGood] = [id(), id(), id()];
    const outcomes = await Promise.allSettled([
      tokens.upsert(good, { clientId: 'rp' }, 60),
      // jsonb refuses the NUL character.
      tokens.upsert(bad, { clientId: 'rp\u0000' }, 60),
      tokens.upsert(alsoGood, { clientId: 'rp' }, 60),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(await tokens.find(good)).toBeDefined();
    expect(await tokens.find(bad)).toBeUndefined();
    expect(await tokens.find(alsoGood)).toBeDefined();
  });
});

describe('group commit on the embedded database', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'monban-group-commit-'));
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('sends parallel saves in a few statements, and they survive a restart', async () => {
    const counters = new StorageCounters();
    let handle = await openDatabase({ dataDir, counters });
    await migrateToLatest(handle.db);
    const writer = new GroupCommitModelWriter(handle.db);
    const tokens = new KyselyAdapter(handle.db, 'ClientCredentials', writer);
    const keys = Array.from({ length: 50 }, () => id());
    const { counts } = await counters.measure(() =>
      Promise.all(keys.map((key) => tokens.upsert(key, { clientId: 'rp', jti: key }, 600))),
    );
    expect(counts.dbStatements).toBeLessThanOrEqual(2);
    await handle.close();

    handle = await openDatabase({ dataDir });
    try {
      const reopened = new KyselyAdapter(handle.db, 'ClientCredentials');
      for (const key of keys) expect(await reopened.find(key)).toMatchObject({ jti: key });
    } finally {
      await handle.close();
    }
  });
});
