import { loadConfig } from '../../../src/config/load.js';
import type { Db } from '../../../src/db/database.js';
import { FlowExpired } from '../../../src/flows/kernel/flow-expired.js';
import { expectState, findFlow, loadFlow, moveFlow, startFlow } from '../../../src/flows/kernel/store.js';
import { RecoveryFlow } from '../../../src/flows/recovery/state.js';
import { RegistrationFlow } from '../../../src/flows/registration/state.js';
import { openScratchStorage } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';

// The flow kernel on a real database: what every flow (sign-up, reset, mobile number) relies on.
describe('flow kernel (defineFlow tables on PostgreSQL)', () => {
  const config = loadConfig({ env: { NODE_ENV: 'test' }, overrides: { dataDir: 'memory://' } });
  let storage: Awaited<ReturnType<typeof openScratchStorage>>;
  let db: Db;
  let n = 0;
  beforeAll(async () => {
    storage = await openScratchStorage(EMBEDDED ? 'pglite' : 'postgres');
    db = storage.handle.db;
  });
  afterAll(async () => {
    await storage.close();
  });

  const address = () => `kernel-${Date.now()}-${(n += 1)}@example.com`;
  const startReset = (email = address(), interaction = 'login-uid-0123456789') =>
    db.transaction().execute((trx) =>
      startFlow(trx, RecoveryFlow, config, {
        accountId: null,
        email,
        context: { locale: 'en', interaction },
        owner: { email },
      }),
    );
  const stateOf = async (id: string) =>
    (await db.selectFrom('flows').select('state').where('id', '=', id).executeTakeFirstOrThrow()).state;

  it('starts in the first state, lives for its ttl, and is loaded with its checked context', async () => {
    const started = await startReset();
    expect(started.state).toBe('awaiting_channel');
    const expected = Date.now() + config.recovery.flowTtlSeconds * 1000;
    expect(Math.abs(started.expiresAt.getTime() - expected)).toBeLessThan(5000);
    const loaded = await loadFlow(db, RecoveryFlow, started.id);
    expect(loaded).toMatchObject({ id: started.id, state: 'awaiting_channel', context: { locale: 'en' } });
    // Another kind's id is no flow of this kind.
    await expect(loadFlow(db, RegistrationFlow, started.id)).rejects.toBeInstanceOf(FlowExpired);
  });

  it('moves along the table and refuses a move it does not list, writing nothing', async () => {
    const flow = await startReset();
    await expect(moveFlow(db, RecoveryFlow, flow, 'awaiting_password')).rejects.toThrow(/no move/);
    expect(await stateOf(flow.id)).toBe('awaiting_channel');
    const atCode = await moveFlow(db, RecoveryFlow, flow, 'awaiting_code', {
      context: { ...flow.context, channel: 'email' },
    });
    expect(await loadFlow(db, RecoveryFlow, flow.id)).toMatchObject({
      state: 'awaiting_code',
      context: { channel: 'email' },
    });
    await moveFlow(db, RecoveryFlow, atCode, 'awaiting_password');
    expect(await stateOf(flow.id)).toBe('awaiting_password');
  });

  it('of two parallel moves from the same state exactly one wins; the other finds the flow ended', async () => {
    const flow = await startReset();
    const results = await Promise.allSettled([
      moveFlow(db, RecoveryFlow, flow, 'awaiting_code'),
      moveFlow(db, RecoveryFlow, flow, 'awaiting_code'),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected');
    expect(lost?.reason).toBeInstanceOf(FlowExpired);
  });

  it('an ended flow (completed) is found but not live, and loading it says FlowExpired', async () => {
    const email = address();
    const flow = await db.transaction().execute((trx) =>
      startFlow(trx, RegistrationFlow, config, {
        accountId: null,
        email,
        context: { locale: 'ja' },
        owner: { email },
      }),
    );
    await moveFlow(db, RegistrationFlow, flow, 'completed');
    expect(await findFlow(db, RegistrationFlow, flow.id)).toMatchObject({ live: false, flow: { state: 'completed' } });
    await expect(loadFlow(db, RegistrationFlow, flow.id)).rejects.toMatchObject({ code: 'FLOW_EXPIRED' });
    await expect(moveFlow(db, RegistrationFlow, { ...flow, state: 'completed' }, 'superseded')).rejects.toThrow(
      /no move/,
    );
  });

  it('expiry is not hidden: an expired flow is found, and loading or moving it gives FlowExpired with its login', async () => {
    const flow = await startReset(address(), 'waiting-login-uid-42');
    await db
      .updateTable('flows')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('id', '=', flow.id)
      .execute();
    const found = await findFlow(db, RecoveryFlow, flow.id);
    expect(found).toMatchObject({ live: false, flow: { id: flow.id, state: 'awaiting_channel' } });
    const expired = await loadFlow(db, RecoveryFlow, flow.id).catch((err: unknown) => err);
    expect(expired).toBeInstanceOf(FlowExpired);
    expect(expired).toMatchObject({ kind: 'recovery', interaction: 'waiting-login-uid-42', status: 410 });
    await expect(moveFlow(db, RecoveryFlow, flow, 'awaiting_code')).rejects.toMatchObject({
      interaction: 'waiting-login-uid-42',
    });
    expect(await stateOf(flow.id)).toBe('awaiting_channel');
  });

  it("starting again supersedes the owner's older live flow, which still names its login", async () => {
    const email = address();
    const older = await startReset(email, 'first-login-uid-000');
    const newer = await startReset(email, 'second-login-uid-00');
    expect(await stateOf(older.id)).toBe('superseded');
    await expect(loadFlow(db, RecoveryFlow, older.id)).rejects.toMatchObject({ interaction: 'first-login-uid-000' });
    expect((await loadFlow(db, RecoveryFlow, newer.id)).state).toBe('awaiting_channel');
  });

  it("a flow owned by its browser supersedes only that browser's older flow, not other browsers' for the address", async () => {
    const email = address();
    const start = (browserFlow: string | undefined) =>
      db.transaction().execute((trx) =>
        startFlow(trx, RecoveryFlow, config, {
          accountId: null,
          email,
          context: { locale: 'en' },
          owner: { browserFlow },
        }),
      );
    const ownersFlow = await start(undefined);
    const strangersFlow = await start(undefined);
    expect(await stateOf(ownersFlow.id)).toBe('awaiting_channel');
    const strangersAgain = await start(strangersFlow.id);
    expect(await stateOf(strangersFlow.id)).toBe('superseded');
    expect(await stateOf(ownersFlow.id)).toBe('awaiting_channel');
    expect(await stateOf(strangersAgain.id)).toBe('awaiting_channel');
  });

  it('a step refuses a flow that moved on (expectState), and an unknown or missing id is FlowExpired', async () => {
    const flow = await startReset();
    expect(() => expectState(flow, 'awaiting_code')).toThrow(FlowExpired);
    expect(() => expectState(flow, 'awaiting_channel')).not.toThrow();
    await expect(loadFlow(db, RecoveryFlow, undefined)).rejects.toBeInstanceOf(FlowExpired);
    await expect(loadFlow(db, RecoveryFlow, 'no-such-flow')).rejects.toBeInstanceOf(FlowExpired);
  });

  it('the context is checked: a wrong one is refused at the start, and a stored one that does not fit ends the flow', async () => {
    const email = address();
    await expect(
      db.transaction().execute((trx) =>
        startFlow(trx, RecoveryFlow, config, {
          accountId: null,
          email,
          context: { locale: 'fr' } as unknown as { locale: 'en' },
          owner: { email },
        }),
      ),
    ).rejects.toThrow();
    const flow = await startReset();
    await db
      .updateTable('flows')
      .set({ context: JSON.stringify({ locale: 42 }) })
      .where('id', '=', flow.id)
      .execute();
    await expect(loadFlow(db, RecoveryFlow, flow.id)).rejects.toBeInstanceOf(FlowExpired);
  });
});
