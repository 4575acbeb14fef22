/**
 * The courier without polling (issue 16): a mail queued by any process reaches the courier
 * through NOTIFY at commit; an idle courier sends nothing to the database; a failed send is
 * retried when it falls due, not at the next safety poll.
 */
import { enqueueMail } from '../../../src/courier/outbox.js';
import { openDatabase } from '../../../src/db/database.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { EMBEDDED } from '../../helpers/env.js';
import { newAddress } from '../../helpers/signup-pages.js';
import { codeIn, MailCatcher } from '../../helpers/smtp.js';

const FROM = 'Monban <no-reply@monban.test>';
/** The safety poll is out of the picture: ten minutes. */
const NO_POLL = { pollIntervalMs: 600_000, maxAttempts: 5, backoffSeconds: 1, maxBackoffSeconds: 1 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const mail = (to: string, code: string) => ({
  to,
  template: 'activation',
  locale: 'en' as const,
  data: { name: 'Notify Test', code, minutes: 10 },
});

describe('courier: woken by NOTIFY, not by polling', () => {
  const catcher = new MailCatcher();
  let t: TestApp;

  beforeAll(async () => {
    await catcher.start();
    t = await startTestApp({
      overrides: { mail: { smtpUrl: `smtp://127.0.0.1:${catcher.port}`, from: FROM }, courier: NO_POLL },
    });
  });
  afterAll(async () => {
    await t?.close();
    await catcher.stop();
  });

  (EMBEDDED ? it.skip : it)('delivers a mail another process queued, at once', async () => {
    // Another process (the admin CLI, another worker): its own connection, no kick() here.
    const other = await openDatabase({ databaseUrl: t.app.config.databaseUrl, dataDir: 'memory://', poolSize: 1 });
    try {
      const to = newAddress('other-process');
      const queued = Date.now();
      await other.db.transaction().execute((trx) => enqueueMail(trx, t.app.box, mail(to, '314159')));
      expect(codeIn(await catcher.waitFor(to))).toBe('314159');
      expect(Date.now() - queued).toBeLessThan(5000);
    } finally {
      await other.close();
    }
  });

  it('queries nothing while the outbox is idle', async () => {
    await sleep(300); // whatever the previous test left has settled
    const { counts } = await t.app.counters.measure(() => sleep(2000));
    expect(counts.dbStatements).toBe(0);
  });

  it('retries a failed send when it falls due', async () => {
    await catcher.stop();
    const to = newAddress('retry');
    await t.app.db.transaction().execute((trx) => enqueueMail(trx, t.app.box, mail(to, '271828')));
    await sleep(500); // the first attempt fails: nothing listens on the SMTP port
    await catcher.start(catcher.port);
    expect(codeIn(await catcher.waitFor(to))).toBe('271828');
  });
});
