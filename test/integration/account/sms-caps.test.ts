/**
 * SMS pumping: an attacker makes a service text numbers that pay them per message. Every text
 * Monban sends (phone verification in the console, reset codes) passes an allow-list of
 * destination countries and caps per requesting IP (default 10 an hour), per destination
 * calling code and in all, counted atomically before anything is sent. Requests come through a
 * trusted proxy, each browser from its own address (X-Forwarded-For).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { metrics } from '../../../src/observability/metrics.js';
import {
  ENGLISH,
  openAndSubmit,
  signInToAccount,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { en, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, submitForm, type PageResponse } from '../../helpers/http-client.js';
import { askForCode, startReset } from '../../helpers/recovery.js';
import { formErrors, outboxSettled } from '../../helpers/signup-pages.js';

const PHONE_PAGE = '/account/security/phone';
let numbers = 0;
/** A fresh Japanese mobile number: national form and E.164. */
function japaneseMobile(): { national: string; e164: string } {
  numbers += 1;
  const digits = String(10_000_000 + ((Date.now() + numbers * 7919) % 89_999_999)).slice(-8);
  return { national: `090${digits}`, e164: `+8190${digits}` };
}

const browserFrom = (ip: string) => new HttpClient({ ...ENGLISH, 'x-forwarded-for': ip });

async function refusedCount(cap: string): Promise<number> {
  const metric = (await metrics.getMetricsAsJSON()).find((m) => m.name === 'monban_sms_refused_total');
  return (metric?.values ?? []).filter((v) => v.labels.cap === cap).reduce((n, v) => n + v.value, 0);
}

/** A signed-in console from `ip`, its account's password TEST_PASSWORD. */
async function consoleFrom(h: AccountHarness, ip: string): Promise<HttpClient> {
  const user = await registerUser(h.app, { locale: 'en' });
  const browser = browserFrom(ip);
  await signInToAccount(browser, h.issuer, user.email);
  return browser;
}

function addNumber(h: AccountHarness, browser: HttpClient, number: string, country = 'JP'): Promise<PageResponse> {
  return openAndSubmit(browser, h.issuer, PHONE_PAGE, PHONE_PAGE, {
    current_password: TEST_PASSWORD,
    country,
    number,
  });
}

describe('SMS caps with the default settings', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness({ trustProxy: true });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('one IP with three accounts gets 10 texts an hour, not 15; another IP is not held up', async () => {
    const ip = '203.0.113.40';
    const statuses: number[] = [];
    for (let account = 0; account < 3; account += 1) {
      const browser = await consoleFrom(h, ip);
      for (let text = 0; text < 5; text += 1)
        statuses.push((await addNumber(h, browser, japaneseMobile().national)).status);
    }
    expect(statuses.filter((s) => s === 303)).toHaveLength(10);
    expect(statuses.slice(10)).toEqual([429, 429, 429, 429, 429]);
    await outboxSettled(h.app);
    expect(h.sms.messages).toHaveLength(10);

    const other = await consoleFrom(h, '203.0.113.41');
    expect((await addNumber(h, other, japaneseMobile().national)).status).toBe(303);
  });

  it('refuses destinations outside the allowed countries (JP by default), in the console and in a reset', async () => {
    await outboxSettled(h.app);
    const before = h.sms.messages.length;
    const refusedBefore = await refusedCount('country_not_allowed');
    const browser = await consoleFrom(h, '203.0.113.42');
    // A US mobile number typed in international form.
    const answer = await addNumber(h, browser, '+1 650 253 0000');
    expect(answer.status).toBe(400);
    expect(formErrors(answer.body)).toEqual([en('errors.PHONE_COUNTRY_NOT_ALLOWED')]);

    const reset = browserFrom('203.0.113.43');
    const method = await startReset(reset, h.issuer, (await registerUser(h.app)).email);
    const refused = await askForCode(reset, method, { channel: 'sms', country: 'JP', number: '+44 7400 123456' });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain(en('errors.PHONE_COUNTRY_NOT_ALLOWED'));

    await outboxSettled(h.app);
    expect(h.sms.messages).toHaveLength(before);
    expect(await refusedCount('country_not_allowed')).toBe(refusedBefore + 2);
  });
});

describe('SMS caps per calling code and in all', () => {
  let h: AccountHarness;
  const lines: { level: number; msg: string }[] = [];
  const logger = pino(
    { level: 'warn' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
        done();
      },
    }),
  );
  const GLOBAL = 5;
  beforeAll(async () => {
    h = await startAccountHarness(
      {
        trustProxy: true,
        recovery: { perIp: { points: 100, durationSeconds: 3600 } },
        sms: {
          allowedCountries: ['JP', 'US'],
          caps: {
            perIp: { points: 10, durationSeconds: 3600 },
            perCallingCode: { points: 3, durationSeconds: 3600 },
            global: { points: GLOBAL, durationSeconds: 3600 },
          },
        },
      },
      { logger },
    );
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a calling code used up refuses texts to it, not to another country', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push(
        (await addNumber(h, await consoleFrom(h, `203.0.113.${50 + i}`), japaneseMobile().national)).status,
      );
    }
    expect(statuses).toEqual([303, 303, 303, 503]);
    const last = await addNumber(h, await consoleFrom(h, '203.0.113.55'), japaneseMobile().national);
    expect(formErrors(last.body)).toEqual([en('errors.SMS_UNAVAILABLE')]);
    expect((await addNumber(h, await consoleFrom(h, '203.0.113.56'), '+1 650 253 0000', 'US')).status).toBe(303);
    expect(lines.some((l) => l.level === 40 && /calling code/.test(l.msg))).toBe(true);
  });

  it('50 parallel reset texts from 50 IPs: the global cap holds exactly, and trips a metric and an alert', async () => {
    await outboxSettled(h.app);
    const sentBefore = h.sms.messages.length; // 4 so far: 3 to +81 and 1 to +1
    expect(sentBefore).toBe(4);
    const left = GLOBAL - 4;
    const refusedBefore = await refusedCount('global');
    // 50 accounts with verified US numbers, each reset from its own IP.
    const walks = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const user = await registerUser(h.app, { locale: 'en' });
        const e164 = `+1650253${String(1000 + i)}`;
        await h.app.db
          .updateTable('accounts')
          .set({ phone_number: e164, phone_number_verified: true })
          .where('id', '=', user.id)
          .execute();
        const browser = browserFrom(`198.18.0.${i + 1}`);
        return { browser, e164, method: await startReset(browser, h.issuer, user.email) };
      }),
    );
    const answers = await Promise.all(
      walks.map(({ browser, method, e164 }) =>
        submitForm(browser, method, '/recovery/method', { channel: 'sms', country: 'US', number: e164 }),
      ),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 303)).toHaveLength(left);
    expect(statuses.filter((s) => s === 503)).toHaveLength(50 - left);
    expect(answers.find((a) => a.status === 503)!.body).toContain(en('errors.SMS_UNAVAILABLE'));

    await outboxSettled(h.app);
    expect(h.sms.messages.length - sentBefore).toBe(left);
    expect(await refusedCount('global')).toBe(refusedBefore + 50 - left);
    const alerts = lines.filter((l) => l.level >= 50 && /global SMS cap/.test(l.msg));
    expect(alerts).toHaveLength(1); // one line per process and minute, not one per refusal
  });

  it('the console tells the same when the global cap is used up', async () => {
    const answer = await addNumber(h, await consoleFrom(h, '203.0.113.60'), '+1 650 253 0001', 'US');
    expect(answer.status).toBe(503);
    expect(formErrors(answer.body)).toEqual([en('errors.SMS_UNAVAILABLE')]);
  });
});
