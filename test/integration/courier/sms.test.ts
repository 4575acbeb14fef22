/**
 * The courier's SMS channel: text messages go through the same durable outbox as mail (queued in
 * the transaction that causes them, sealed at rest, leased, retried with backoff, wiped once sent)
 * and out through the real Twilio-compatible HTTP sender to a fake provider on loopback.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import type { App } from '../../../src/app.js';
import { enqueueMail, enqueueSms, type OutgoingSms } from '../../../src/courier/outbox.js';
import type { OutboxRow } from '../../../src/db/schema.js';
import type { Logger } from '../../../src/logger.js';
import { freePort, startTestApp, type TestApp } from '../../helpers/app.js';
import { FakeSmsProvider, INVALID_NUMBER } from '../../helpers/fake-sms.js';
import { messageText } from '../../helpers/fixtures.js';
import { eventually, newAddress, outboxFor, outboxSettled } from '../../helpers/signup-pages.js';
import { codeIn, MailCatcher } from '../../helpers/smtp.js';
import { SMS_FROM } from '../../helpers/account.js';
import { isTimestamp } from '../../helpers/databases.js';

const FAST_COURIER = { pollIntervalMs: 100, maxAttempts: 5, backoffSeconds: 1, maxBackoffSeconds: 2 };
const smsOn = (provider: FakeSmsProvider, changes: Record<string, string> = {}) => ({
  sms: {
    baseUrl: provider.baseUrl,
    accountSid: provider.accountSid,
    authToken: provider.authToken,
    from: SMS_FROM,
    ...changes,
  },
});

/** A Japanese mobile number in E.164 that no other test uses. */
const newNumber = () => `+8190${String(randomInt(10_000_000, 100_000_000))}`;
const newCode = () => String(randomInt(100_000, 1_000_000));

function verification(to: string, code: string, locale: 'ja' | 'en' = 'ja'): OutgoingSms {
  return { to, template: 'phone-verification', locale, data: { code, minutes: 10 } };
}

async function queueSms(app: App, sms: OutgoingSms): Promise<void> {
  await app.db.transaction().execute((trx) => enqueueSms(trx, app.box, sms));
  app.courier.kick();
}

/** Waits until `recipient`'s only outbox row satisfies `check`, and returns it. */
function rowWhen(
  app: App,
  recipient: string,
  check: (row: OutboxRow) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<OutboxRow> {
  return eventually(
    async () => {
      const [row] = await outboxFor(app, recipient);
      return row && check(row) ? row : undefined;
    },
    timeoutMs,
    what,
  );
}

/** Everything the app logs from now on, as JSON text (the test config logs nothing by default). */
function captureLogs(logger: Logger): { text(): string; restore(): void } {
  const lines: string[] = [];
  const target = logger as unknown as Record<string, unknown>;
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
  const originals = levels.map((level) => target[level]);
  const plain = (_key: string, value: unknown) =>
    value instanceof Error ? { message: value.message, stack: value.stack } : value;
  for (const level of levels)
    target[level] = (...args: unknown[]) => {
      lines.push(JSON.stringify({ level, args }, plain));
    };
  return {
    text: () => lines.join('\n'),
    restore: () =>
      levels.forEach((level, i) => {
        target[level] = originals[i];
      }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('courier: text messages through a Twilio-compatible API', () => {
  const provider = new FakeSmsProvider();
  const catcher = new MailCatcher();
  let t: TestApp;
  let logs: ReturnType<typeof captureLogs>;

  beforeAll(async () => {
    await provider.start();
    await catcher.start();
    t = await startTestApp({
      overrides: {
        ...smsOn(provider),
        mail: { smtpUrl: catcher.url, from: 'Monban <no-reply@monban.test>' },
        courier: FAST_COURIER,
      },
    });
    logs = captureLogs(t.app.logger);
  });
  afterAll(async () => {
    logs?.restore();
    await t?.close();
    await provider.stop();
    await catcher.stop();
  });

  it('delivers a queued code to the provider, authenticated, in the account language (ja and en)', async () => {
    const ja = newNumber();
    const en = newNumber();
    const [jaCode, enCode] = [newCode(), newCode()];
    await t.app.db.transaction().execute(async (trx) => {
      await enqueueSms(trx, t.app.box, verification(ja, jaCode, 'ja'));
      await enqueueSms(trx, t.app.box, verification(en, enCode, 'en'));
    });
    t.app.courier.kick();

    const jaSms = await provider.waitFor(ja);
    expect(jaSms).toMatchObject({ to: ja, from: SMS_FROM, accountSid: provider.accountSid });
    expect(jaSms.body).toBe(messageText('ja', 'sms.phoneVerification', { code: jaCode, minutes: 10 }));
    expect(jaSms.body).toContain('確認コード');
    expect(jaSms.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(jaSms.sid).toMatch(/^SM[0-9a-f]{32}$/);

    const enSms = await provider.waitFor(en);
    expect(enSms).toMatchObject({ to: en, from: SMS_FROM });
    expect(enSms.body).toBe(messageText('en', 'sms.phoneVerification', { code: enCode, minutes: 10 }));
    expect(enSms.body).toContain(`verification code is ${enCode}`);

    const basic = `Basic ${Buffer.from(`${provider.accountSid}:${provider.authToken}`).toString('base64')}`;
    for (const to of [ja, en]) {
      const requests = provider.requestsTo(to);
      expect(requests).toHaveLength(1);
      expect(requests[0]).toMatchObject({
        method: 'POST',
        path: `/2010-04-01/Accounts/${provider.accountSid}/Messages.json`,
        status: 201,
        authorization: basic,
      });
      const sent = await rowWhen(t.app, to, (row) => row.status === 'sent', 'the row marked sent');
      expect(sent).toMatchObject({
        channel: 'sms',
        template: 'phone-verification',
        attempts: 1,
        payload_sealed: null,
        last_error: null,
      });
    }
    expect(provider.messagesTo(ja)).toHaveLength(1);
  });

  it('seals the payload at rest (the code is not in the table) and wipes it once sent', async () => {
    const to = newNumber();
    const code = newCode();
    let queued: OutboxRow | undefined;
    await t.app.db.transaction().execute(async (trx) => {
      await enqueueSms(trx, t.app.box, verification(to, code));
      queued = await trx.selectFrom('outbox').selectAll().where('recipient', '=', to).executeTakeFirstOrThrow();
    });
    expect(queued).toMatchObject({
      channel: 'sms',
      status: 'pending',
      attempts: 0,
      template: 'phone-verification',
      locale: 'ja',
    });
    const sealed = queued!.payload_sealed!;
    expect(sealed).toBeTruthy();
    for (const text of [
      sealed,
      Buffer.from(sealed, 'base64').toString('latin1'),
      Buffer.from(sealed, 'base64url').toString('latin1'),
    ]) {
      expect(text).not.toContain(code);
    }

    t.app.courier.kick();
    expect((await provider.waitFor(to)).body).toContain(code);
    const sent = await rowWhen(t.app, to, (row) => row.status === 'sent', 'the row marked sent');
    expect(sent).toMatchObject({ payload_sealed: null, last_error: null });
    expect(isTimestamp(sent.sent_at)).toBe(true);
    const dump = await sql<{ text: string }>`select (select json_agg(o)::text from outbox o) as text`.execute(t.app.db);
    expect(dump.rows[0]!.text).toContain(to);
    expect(dump.rows[0]!.text).not.toContain(code);
  });

  it('queues a text only with the transaction that causes it, and refuses a number not in E.164', async () => {
    const dropped = newNumber();
    await expect(
      t.app.db.transaction().execute(async (trx) => {
        await enqueueSms(trx, t.app.box, verification(dropped, newCode()));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await outboxFor(t.app, dropped)).toHaveLength(0);

    for (const bad of ['090-1234-5678', '09012345678', '+0901234567', '+81 90 1234 5678', 'hanako@example.com']) {
      await expect(
        t.app.db.transaction().execute((trx) => enqueueSms(trx, t.app.box, verification(bad, newCode()))),
      ).rejects.toThrow(/E\.164/);
      expect(await outboxFor(t.app, bad)).toHaveLength(0);
    }
    t.app.courier.kick();
    await outboxSettled(t.app);
    expect(provider.messagesTo(dropped)).toHaveLength(0);
  });

  it('sends mail and text messages queued together, each through its own transport', async () => {
    const email = newAddress('both');
    const phone = newNumber();
    const [mailCode, smsCode] = [newCode(), newCode()];
    await t.app.db.transaction().execute(async (trx) => {
      await enqueueMail(trx, t.app.box, {
        to: email,
        template: 'activation',
        locale: 'en',
        data: { name: 'Both Channels', code: mailCode, minutes: 10 },
      });
      await enqueueSms(trx, t.app.box, verification(phone, smsCode, 'en'));
    });
    t.app.courier.kick();
    expect(codeIn(await catcher.waitFor(email))).toBe(mailCode);
    expect((await provider.waitFor(phone)).body).toContain(smsCode);
    expect(provider.messages.some((sms) => sms.to === email || sms.body.includes(mailCode))).toBe(false);
    expect(catcher.mails.some((mail) => mail.text.includes(smsCode))).toBe(false);
    await rowWhen(t.app, email, (row) => row.status === 'sent' && row.channel === 'email', 'the mail row sent');
    await rowWhen(t.app, phone, (row) => row.status === 'sent' && row.channel === 'sms', 'the sms row sent');
  });

  it('retries a 503 from the provider with backoff, then delivers once', async () => {
    const to = newNumber();
    const code = newCode();
    provider.failNext(2, 503);
    await queueSms(t.app, verification(to, code));

    const failing = await rowWhen(t.app, to, (row) => row.attempts >= 1 && row.last_error !== null, 'a failed attempt');
    expect(failing.status).toBe('pending');
    expect(failing.last_error).toMatch(/503/);
    expect(failing.last_error).toMatch(/20503/);
    expect(failing.payload_sealed).toBeTruthy();

    const sms = await provider.waitFor(to);
    expect(sms.body).toBe(messageText('ja', 'sms.phoneVerification', { code, minutes: 10 }));
    const sent = await rowWhen(t.app, to, (row) => row.status === 'sent', 'the row marked sent');
    expect(sent).toMatchObject({ attempts: 3, payload_sealed: null, last_error: null });

    const requests = provider.requestsTo(to);
    expect(requests.map((r) => r.status)).toEqual([503, 503, 201]);
    // Backoff: 1 s after the first failure, 2 s after the second (less a little clock slack).
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(900);
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(1900);
    await sleep(500);
    expect(provider.messagesTo(to)).toHaveLength(1);
  });

  it('gives a permanent refusal up after maxAttempts: failed, wiped, last_error without the token', async () => {
    const code = newCode();
    await queueSms(t.app, verification(INVALID_NUMBER, code));
    const failed = await rowWhen(
      t.app,
      INVALID_NUMBER,
      (row) => row.status === 'failed',
      'the row marked failed',
      30_000,
    );
    expect(failed).toMatchObject({ attempts: 5, payload_sealed: null, sent_at: null });
    expect(failed.last_error).toMatch(/400/);
    expect(failed.last_error).toMatch(/21211/);
    expect(failed.last_error).toMatch(/not a valid phone number/);
    expect(failed.last_error).not.toContain(provider.authToken);
    expect(provider.requestsTo(INVALID_NUMBER).map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);

    await sleep(1500); // beyond the backoff, many polls: never tried again
    expect(provider.requestsTo(INVALID_NUMBER)).toHaveLength(5);

    const logged = logs.text();
    expect(logged).toContain('text message delivery failed');
    expect(logged).toContain('21211');
    expect(logged).not.toContain(provider.authToken);
    expect(logged).not.toContain(Buffer.from(`${provider.accountSid}:${provider.authToken}`).toString('base64'));
    expect(logged).not.toContain(code);
  });
});

describe('courier: text messages when the provider refuses or is away', () => {
  const provider = new FakeSmsProvider();
  afterAll(() => provider.stop());

  it('records a clear last_error for wrong credentials, and never the token', async () => {
    await provider.start();
    const wrongToken = `wrong-${newCode()}-token`;
    const t = await startTestApp({
      overrides: { ...smsOn(provider, { authToken: wrongToken }), courier: FAST_COURIER },
    });
    const logs = captureLogs(t.app.logger);
    try {
      const to = newNumber();
      await queueSms(t.app, verification(to, newCode()));
      const failing = await rowWhen(
        t.app,
        to,
        (row) => row.attempts >= 1 && row.last_error !== null,
        'a failed attempt',
      );
      expect(failing.status).toBe('pending');
      expect(failing.last_error).toMatch(/401/);
      expect(failing.last_error).toMatch(/code 20003/);
      expect(failing.last_error).toMatch(/Authenticate/);
      expect(failing.last_error).not.toContain(wrongToken);
      expect(logs.text()).toContain('20003');
      expect(logs.text()).not.toContain(wrongToken);
      expect(provider.messagesTo(to)).toHaveLength(0);
      expect(provider.requestsTo(to)[0]).toMatchObject({ status: 401 });
    } finally {
      logs.restore();
      await t.close();
    }
  });

  it('retries while nothing listens at SMS_BASE_URL and delivers once the provider is up', async () => {
    const port = await freePort();
    const away = new FakeSmsProvider(); // its credentials exist before it listens
    const t = await startTestApp({
      overrides: {
        sms: {
          baseUrl: `http://127.0.0.1:${port}`,
          accountSid: away.accountSid,
          authToken: away.authToken,
          from: SMS_FROM,
        },
        courier: FAST_COURIER,
      },
    });
    try {
      const to = newNumber();
      const code = newCode();
      await queueSms(t.app, verification(to, code, 'en'));
      const failing = await rowWhen(t.app, to, (row) => row.attempts >= 2, 'a second failed attempt');
      expect(failing.status).toBe('pending');
      expect(failing.last_error).toMatch(/unreachable.*ECONNREFUSED/);

      await away.start(port);
      expect((await away.waitFor(to)).body).toBe(messageText('en', 'sms.phoneVerification', { code, minutes: 10 }));
      const sent = await rowWhen(t.app, to, (row) => row.status === 'sent', 'the row marked sent');
      expect(sent).toMatchObject({ payload_sealed: null, last_error: null });
    } finally {
      await t.close();
      await away.stop();
    }
  });
});

describe('courier: the embedded default without SMS_BASE_URL', () => {
  it('writes each text as a .txt file under <dataDir>/sms and logs only where', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'monban-sms-'));
    const t = await startTestApp({ mode: 'embedded', overrides: { dataDir, courier: FAST_COURIER } });
    const logs = captureLogs(t.app.logger);
    try {
      expect(t.app.config.sms.baseUrl).toBeUndefined();
      const to = newNumber();
      const code = newCode();
      await queueSms(t.app, verification(to, code, 'en'));

      const smsDir = path.join(dataDir, 'sms');
      const [file] = await eventually(
        async () => {
          const files = (await readdir(smsDir).catch(() => [] as string[])).filter((name) => name.endsWith('.txt'));
          return files.length > 0 ? files : undefined;
        },
        15_000,
        'a .txt file',
      );
      const sent = await rowWhen(t.app, to, (row) => row.status === 'sent', 'the row marked sent');
      expect(sent).toMatchObject({ channel: 'sms', payload_sealed: null });
      expect(file).toMatch(new RegExp(`-${sent.id}\\.txt$`));

      const full = path.join(smsDir, file!);
      expect((await stat(full)).mode & 0o777).toBe(0o600); // it holds a code: readable by the owner only
      const text = await readFile(full, 'utf8');
      expect(text).toContain(`To: ${to}`);
      expect(text).toContain(`From: ${t.app.config.sms.from}`);
      expect(text).toContain(messageText('en', 'sms.phoneVerification', { code, minutes: 10 }));

      expect(logs.text()).toContain(full);
      expect(logs.text()).not.toContain(code);
    } finally {
      logs.restore();
      await t.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
