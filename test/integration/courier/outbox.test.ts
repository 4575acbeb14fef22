/**
 * The courier (issue 3): mail is queued in the transaction that causes it, sealed at rest,
 * delivered over real SMTP on loopback with retries and backoff, exactly once even with several
 * processes, and never lost when the SMTP server or the process restarts.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { simpleParser } from 'mailparser';
import { enqueueMail, type OutgoingMail } from '../../../src/courier/outbox.js';
import type { OutboxRow } from '../../../src/db/schema.js';
import { freePort, startTestApp, type TestApp } from '../../helpers/app.js';
import { createScratchDatabase, isTimestamp } from '../../helpers/databases.js';
import { messageText } from '../../helpers/fixtures.js';
import { HttpClient, inputValue } from '../../helpers/http-client.js';
import {
  accountsFor,
  enterCode,
  eventually,
  newAddress,
  outboxFor,
  outboxSettled,
  signUp,
  signUpFields,
} from '../../helpers/signup-pages.js';
import { codeIn, MailCatcher } from '../../helpers/smtp.js';

const english = () => new HttpClient({ 'accept-language': 'en' });
const FROM = 'Monban <no-reply@monban.test>';
const FAST_COURIER = { pollIntervalMs: 100, maxAttempts: 10, backoffSeconds: 1, maxBackoffSeconds: 2 };
const smtpOn = (port: number) => ({ mail: { smtpUrl: `smtp://127.0.0.1:${port}`, from: FROM } });

function activationMail(to: string, code: string): OutgoingMail {
  return { to, template: 'activation', locale: 'en', data: { name: 'Outbox Test', code, minutes: 10 } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `recipient`'s only outbox row satisfies `check`, and returns it. */
function rowWhen(t: TestApp, recipient: string, check: (row: OutboxRow) => boolean, what: string): Promise<OutboxRow> {
  return eventually(
    async () => {
      const [row] = await outboxFor(t.app, recipient);
      return row && check(row) ? row : undefined;
    },
    15_000,
    what,
  );
}

describe('courier: the outbox and SMTP delivery', () => {
  const catcher = new MailCatcher();
  let t: TestApp;

  beforeAll(async () => {
    await catcher.start();
    t = await startTestApp({ overrides: { ...smtpOn(catcher.port), courier: FAST_COURIER } });
  });
  afterAll(async () => {
    await t?.close();
    await catcher.stop();
  });

  it('queues a mail only with the transaction that causes it: rolled back, nothing is sent', async () => {
    const dropped = newAddress('rollback');
    await expect(
      t.app.db.transaction().execute(async (trx) => {
        await enqueueMail(trx, t.app.box, activationMail(dropped, '111111'));
        expect(await trx.selectFrom('outbox').select('id').where('recipient', '=', dropped).execute()).toHaveLength(1);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await outboxFor(t.app, dropped)).toHaveLength(0);

    const kept = newAddress('commit');
    await t.app.db.transaction().execute((trx) => enqueueMail(trx, t.app.box, activationMail(kept, '222222')));
    t.app.courier.kick();
    const mail = await catcher.waitFor(kept);
    expect(codeIn(mail)).toBe('222222');
    await outboxSettled(t.app);
    expect(catcher.mailsTo(dropped)).toHaveLength(0);
  });

  it('seals the payload at rest (the code is not in the table) and deletes it once sent', async () => {
    const to = newAddress('sealed');
    const code = '987654';
    let queued: OutboxRow | undefined;
    await t.app.db.transaction().execute(async (trx) => {
      await enqueueMail(trx, t.app.box, {
        ...activationMail(to, code),
        template: 'recovery-code', // a mail to an account's own address, greeting it by name
        data: { name: 'Sealed Person', code, minutes: 10 },
      });
      queued = await trx.selectFrom('outbox').selectAll().where('recipient', '=', to).executeTakeFirstOrThrow();
    });
    expect(queued).toMatchObject({ status: 'pending', attempts: 0, template: 'recovery-code', locale: 'en' });
    const sealed = queued!.payload_sealed!;
    expect(sealed).toBeTruthy();
    for (const text of [
      sealed,
      Buffer.from(sealed, 'base64').toString('latin1'),
      Buffer.from(sealed, 'base64url').toString('latin1'),
    ]) {
      expect(text).not.toContain(code);
      expect(text).not.toContain('Sealed Person');
    }

    t.app.courier.kick();
    const mail = await catcher.waitFor(to);
    expect(codeIn(mail)).toBe(code);
    expect(mail.text).toContain('Hello Sealed Person,');
    const sent = await rowWhen(t, to, (row) => row.status === 'sent', 'the row marked sent');
    expect(sent).toMatchObject({ payload_sealed: null, attempts: 1, last_error: null });
    expect(isTimestamp(sent.sent_at)).toBe(true);
  });

  it('keeps no readable code anywhere in the database after a sign-up', async () => {
    const email = newAddress('nocode');
    await signUp(english(), t.issuer, signUpFields(email));
    const code = codeIn(await catcher.waitFor(email));
    await rowWhen(t, email, (row) => row.status === 'sent', 'the row marked sent');
    const dump = await sql<{
      text: string;
    }>`select concat_ws(' ', (select json_agg(o)::text from outbox o), (select json_agg(f)::text from flows f)) as text`.execute(
      t.app.db,
    );
    expect(dump.rows[0]!.text).toContain(email);
    expect(dump.rows[0]!.text).not.toContain(code);
  });

  it('delivers each queued mail exactly once with two processes on one database', async () => {
    const shared = await createScratchDatabase();
    const first = await startTestApp({
      overrides: { databaseUrl: shared.url, ...smtpOn(catcher.port), courier: FAST_COURIER },
    });
    const second = await startTestApp({
      overrides: { databaseUrl: shared.url, ...smtpOn(catcher.port), courier: FAST_COURIER },
    });
    try {
      const batch = Array.from({ length: 20 }, (_, i) => newAddress(`bulk${i}`));
      await first.app.db.transaction().execute(async (trx) => {
        for (const [i, to] of batch.entries())
          await enqueueMail(trx, first.app.box, activationMail(to, String(100000 + i)));
      });
      first.app.courier.kick();
      second.app.courier.kick();

      await eventually(() => batch.every((to) => catcher.mailsTo(to).length > 0), 15_000, 'all 20 mails');
      await outboxSettled(first.app);
      await sleep(500); // two more polls of both couriers: nothing else may arrive
      expect(batch.map((to) => catcher.mailsTo(to).length)).toEqual(batch.map(() => 1));
      expect(batch.map((to, i) => codeIn(catcher.mailsTo(to)[0]!) === String(100000 + i))).toEqual(
        batch.map(() => true),
      );
      const rows = await first.app.db.selectFrom('outbox').selectAll().execute();
      expect(rows).toHaveLength(20);
      expect(rows.every((row) => row.status === 'sent' && row.attempts === 1 && row.payload_sealed === null)).toBe(
        true,
      );
    } finally {
      await second.close();
      await first.close();
      await shared.drop();
    }
  });
});

describe('courier: when the SMTP server is down', () => {
  let port: number;
  let t: TestApp;
  const catcher = new MailCatcher();

  beforeAll(async () => {
    port = await freePort(); // nothing listens there until the test starts the catcher
    t = await startTestApp({ overrides: { ...smtpOn(port), courier: FAST_COURIER } });
  });
  afterAll(async () => {
    await t?.close();
    await catcher.stop();
  });

  it('retries with backoff and delivers the code once the server is back; the code still works', async () => {
    const browser = english();
    const email = newAddress('down');
    const res = await signUp(browser, t.issuer, signUpFields(email));
    expect(res.status).toBe(303); // the sign-up does not wait for, or fail with, the mail server
    const verify = await browser.follow(res.location!);

    const failing = await rowWhen(t, email, (row) => row.attempts >= 2, 'a second failed attempt');
    expect(failing.status).toBe('pending');
    expect(failing.last_error).toMatch(/ECONNREFUSED|connect/i);
    expect(failing.payload_sealed).toBeTruthy();
    expect(failing.next_attempt_at.getTime()).toBeGreaterThan(failing.created_at.getTime());

    await catcher.start(port);
    const mail = await catcher.waitFor(email);
    const code = codeIn(mail);
    expect(failing.payload_sealed).not.toContain(code);
    const sent = await rowWhen(t, email, (row) => row.status === 'sent', 'the row marked sent');
    expect(sent).toMatchObject({ payload_sealed: null, last_error: null });
    expect(sent.attempts).toBeGreaterThanOrEqual(failing.attempts);
    await outboxSettled(t.app);
    expect(catcher.mailsTo(email)).toHaveLength(1);

    const done = await enterCode(browser, verify, code);
    expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));
    expect((await accountsFor(t.app, email))[0]).toMatchObject({ status: 'active', email_verified: true });
  });
});

describe('courier: giving up', () => {
  let port: number;
  let t: TestApp;
  const catcher = new MailCatcher();

  beforeAll(async () => {
    port = await freePort();
    t = await startTestApp({ overrides: { ...smtpOn(port), courier: { ...FAST_COURIER, maxAttempts: 2 } } });
  });
  afterAll(async () => {
    await t?.close();
    await catcher.stop();
  });

  it('marks a mail failed after maxAttempts, wipes its payload, and never sends it later', async () => {
    const to = newAddress('give-up');
    await t.app.db.transaction().execute((trx) => enqueueMail(trx, t.app.box, activationMail(to, '333333')));
    t.app.courier.kick();
    const failed = await rowWhen(t, to, (row) => row.status === 'failed', 'the row marked failed');
    expect(failed).toMatchObject({ attempts: 2, payload_sealed: null, sent_at: null });
    expect(failed.last_error).toBeTruthy();

    await catcher.start(port);
    await sleep(1500); // beyond the backoff, many polls
    expect(catcher.mailsTo(to)).toHaveLength(0);
    expect((await outboxFor(t.app, to))[0]).toMatchObject({ status: 'failed', attempts: 2 });
  });
});

describe('courier: a restart loses nothing', () => {
  it('delivers a mail queued by a process that stopped, from the next process on the same database', async () => {
    const shared = await createScratchDatabase();
    const catcher = new MailCatcher();
    const deadPort = await freePort();
    const before = await startTestApp({
      overrides: { databaseUrl: shared.url, ...smtpOn(deadPort), courier: FAST_COURIER },
    });
    let after: TestApp | undefined;
    try {
      const browser = english();
      const email = newAddress('restart');
      const res = await signUp(browser, before.issuer, signUpFields(email));
      const verify = await browser.follow(res.location!);
      await rowWhen(before, email, (row) => row.attempts >= 1 && row.last_error !== null, 'a failed attempt');
      await before.close(); // the process goes away with the mail still queued

      await catcher.start();
      after = await startTestApp({
        overrides: { databaseUrl: shared.url, ...smtpOn(catcher.port), courier: FAST_COURIER },
      });
      const code = codeIn(await catcher.waitFor(email));
      // The browser carries on with the new process (same database, same cookie keys).
      const done = await browser.request(`${after.issuer}/signup/verify`, {
        form: { _csrf: inputValue(verify.body, '_csrf')!, code },
      });
      expect(done.status).toBe(200);
      expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));
      expect((await accountsFor(after.app, email))[0]).toMatchObject({ status: 'active' });
    } finally {
      await after?.close();
      await catcher.stop();
      await shared.drop();
    }
  });
});

describe('courier: the embedded default without SMTP_URL', () => {
  it('writes each mail as an .eml file under <dataDir>/mail, holding the code', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'monban-courier-'));
    const t = await startTestApp({ mode: 'embedded', overrides: { dataDir, courier: FAST_COURIER } });
    try {
      expect(t.app.config.mail.smtpUrl).toBeUndefined();
      const browser = english();
      const email = newAddress('eml');
      const res = await signUp(browser, t.issuer, signUpFields(email));
      expect(res.status).toBe(303);
      const verify = await browser.follow(res.location!);

      const mailDir = path.join(dataDir, 'mail');
      const [file] = await eventually(
        async () => {
          const files = (await readdir(mailDir).catch(() => [] as string[])).filter((name) => name.endsWith('.eml'));
          return files.length > 0 ? files : undefined;
        },
        15_000,
        'an .eml file',
      );
      const full = path.join(mailDir, file!);
      expect((await stat(full)).mode & 0o777).toBe(0o600); // it holds a code: readable by the owner only
      const parsed = await simpleParser(await readFile(full));
      expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.text : '').toBe(email);
      const code = parsed.text?.match(/\b(\d{6})\b/)?.[1];
      expect(code).toBeDefined();
      expect(parsed.subject).toBe(messageText('en', 'emails.activation.subject', { code: code! }));
      expect((await outboxFor(t.app, email))[0]).toMatchObject({ status: 'sent', payload_sealed: null });

      const done = await enterCode(browser, verify, code!);
      expect(done.body).toContain(messageText('en', 'signup.activatedHeading'));
    } finally {
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
