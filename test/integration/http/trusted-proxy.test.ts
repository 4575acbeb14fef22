/**
 * Behind a proxy, the client's address is the rightmost X-Forwarded-For entry that no trusted
 * proxy owns. An attacker who adds `198.51.100.N, ` in front of the chain the proxy writes must
 * not get a fresh rate-limit bucket per request, nor a forged IP in the audit log or the session
 * list. Every test sends real chains: `<forged>, <real>` as the proxy in front passes them on.
 */
import {
  accountRow,
  ENGLISH,
  open,
  signInToAccount,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { authorizationUrl, messageText, registerClient, registerUser } from '../../helpers/fixtures.js';
import { HttpClient, alertText, openPasswordStep, submitForm, type PageResponse } from '../../helpers/http-client.js';
import { enableTotp, wrongTotpCode } from '../../helpers/mfa.js';
import { newAddress, signUp, signUpFields } from '../../helpers/signup-pages.js';

const LIMIT = { points: 2, durationSeconds: 3600 };
let forged = 0;
/** A browser behind the proxy whose every request claims a new address on the left of the chain. */
class SpoofingBrowser extends HttpClient {
  constructor(readonly realIp: string) {
    super(ENGLISH);
  }
  override request(url: string, init: Parameters<HttpClient['request']>[1] = {}): Promise<PageResponse> {
    forged += 1;
    const chain = `198.51.100.${forged % 250}, 10.9.${forged % 250}.1, ${this.realIp}`;
    return super.request(url, { ...init, headers: { ...init.headers, 'x-forwarded-for': chain } });
  }
}

async function auditIps(h: AccountHarness, type: string, accountId?: string): Promise<(string | null)[]> {
  let query = h.app.db.selectFrom('audit_events').select('ip').where('type', '=', type);
  if (accountId) query = query.where('account_id', '=', accountId);
  return (await query.execute()).map((r) => r.ip);
}

describe('X-Forwarded-For with TRUST_PROXY=true (one trusted hop)', () => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;
  const tooMany = messageText('en', 'errors.TOO_MANY_ATTEMPTS', { minutes: 60 });

  beforeAll(async () => {
    h = await startAccountHarness({
      trustProxy: true,
      registration: { perIp: LIMIT },
      recovery: { perIp: LIMIT },
      forgotEmail: { perIp: LIMIT },
      mfa: { attemptsPerIp: LIMIT },
    });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('login: forged left entries share the real address bucket, and the audit log records the real address', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const realIp = '203.0.113.11';
    const { points } = h.app.config.rateLimits.loginPerAccountAndIp;
    const statuses: number[] = [];
    for (let i = 0; i <= points; i += 1) {
      const browser = new SpoofingBrowser(realIp);
      const page = await openPasswordStep(browser, authorizationUrl(h.issuer, client.client_id).url, user.email);
      statuses.push((await submitForm(browser, page, '/password', { password: 'Wrong-Password-99!' })).status);
    }
    expect(statuses.slice(0, points).every((s) => s !== 429)).toBe(true);
    expect(statuses[points]).toBe(429);
    const ips = [...(await auditIps(h, 'login.failed', user.id)), ...(await auditIps(h, 'login.throttled', user.id))];
    expect(ips.length).toBeGreaterThanOrEqual(points);
    expect(new Set(ips)).toEqual(new Set([realIp]));
  });

  it('the session list shows the real address', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new SpoofingBrowser('203.0.113.12');
    await signInToAccount(browser, h.issuer, user.email);
    const sessions = await h.app.db
      .selectFrom('account_sessions')
      .select('ip')
      .where('account_id', '=', user.id)
      .execute();
    expect(sessions.map((s) => s.ip)).toEqual(['203.0.113.12']);
    const security = await open(browser, h.issuer, '/account/security');
    expect(security.body).toContain('203.0.113.12');
    expect(security.body).not.toContain('198.51.100.');
    expect((await auditIps(h, 'login.succeeded', user.id)).every((ip) => ip === '203.0.113.12')).toBe(true);
  });

  it('sign-up: the per-IP limit follows the real address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT.points; i += 1) {
      const browser = new SpoofingBrowser('203.0.113.13');
      statuses.push((await signUp(browser, h.issuer, signUpFields(newAddress()))).status);
    }
    expect(statuses.slice(0, LIMIT.points)).toEqual([303, 303]);
    expect(statuses[LIMIT.points]).toBe(429);
    // Another real address is not held up by it.
    expect((await signUp(new SpoofingBrowser('203.0.113.14'), h.issuer, signUpFields(newAddress()))).status).toBe(303);
  });

  it('password reset: the per-IP limit follows the real address', async () => {
    const answers: PageResponse[] = [];
    for (let i = 0; i <= LIMIT.points; i += 1) {
      const browser = new SpoofingBrowser('203.0.113.15');
      const start = await browser.request(`${h.issuer}/recovery`);
      answers.push(await submitForm(browser, start, '/recovery', { email: newAddress('reset') }));
    }
    expect(answers.slice(0, LIMIT.points).map((a) => a.status)).toEqual([303, 303]);
    expect(answers[LIMIT.points]!.status).toBe(429);
    expect(alertText(answers[LIMIT.points]!.body)).toBe(tooMany);
  });

  it('forgot email: the per-IP limit follows the real address', async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT.points; i += 1) {
      const browser = new SpoofingBrowser('203.0.113.16');
      const form = await browser.request(`${h.issuer}/forgot-email`);
      statuses.push((await submitForm(browser, form, '/forgot-email', { identifier: newAddress('lost') })).status);
    }
    expect(statuses).toEqual([200, 200, 429]);
  });

  it('second factor: the per-IP limit follows the real address', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const owner = new SpoofingBrowser('203.0.113.17');
    await signInToAccount(owner, h.issuer, user.email);
    const { secret } = await enableTotp(owner, h.issuer);

    const statuses: number[] = [];
    for (let i = 0; i <= LIMIT.points; i += 1) {
      const browser = new SpoofingBrowser('203.0.113.18');
      const password = await openPasswordStep(browser, authorizationUrl(h.issuer, client.client_id).url, user.email);
      const step = await submitForm(browser, password, '/password', { password: 'Kaisha-Pass-2026!' });
      const mfaPage = await browser.follow(step.location!);
      statuses.push((await submitForm(browser, mfaPage, '/mfa/totp', { code: wrongTotpCode(secret) })).status);
    }
    expect(statuses.slice(0, LIMIT.points).every((s) => s !== 429)).toBe(true);
    expect(statuses[LIMIT.points]).toBe(429);
    expect(new Set(await auditIps(h, 'mfa.failed', user.id))).toEqual(new Set(['203.0.113.18']));
    expect((await accountRow(h.app, user.id)).status).toBe('active');
  });
});

describe.each([
  ['two trusted hops', 2],
  ['the trusted proxies listed by address', ['127.0.0.0/8', '10.0.0.0/8']],
])('X-Forwarded-For with %s', (_name, trustProxy) => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;
  beforeAll(async () => {
    h = await startAccountHarness({ trustProxy });
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('takes the client from the right, past the trusted proxy, and throttles the real address', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const { points } = h.app.config.rateLimits.loginPerAccountAndIp;
    const statuses: number[] = [];
    for (let i = 0; i <= points; i += 1) {
      // client 203.0.113.21 -> proxy 10.0.0.2 -> this app (the socket peer, 127.0.0.1, is the second proxy)
      const browser = new HttpClient({ ...ENGLISH, 'x-forwarded-for': `198.51.100.${i + 1}, 203.0.113.21, 10.0.0.2` });
      const page = await openPasswordStep(browser, authorizationUrl(h.issuer, client.client_id).url, user.email);
      statuses.push((await submitForm(browser, page, '/password', { password: 'Wrong-Password-99!' })).status);
    }
    expect(statuses[points]).toBe(429);
    expect(new Set(await auditIps(h, 'login.failed', user.id))).toEqual(new Set(['203.0.113.21']));
  });
});

describe('X-Forwarded-For without a trusted proxy (the default)', () => {
  let h: AccountHarness;
  let client: Awaited<ReturnType<typeof registerClient>>;
  beforeAll(async () => {
    h = await startAccountHarness();
    client = await registerClient(h.app);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is ignored: the client is the connection peer', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient({ ...ENGLISH, 'x-forwarded-for': '198.51.100.1, 203.0.113.31' });
    const page = await openPasswordStep(browser, authorizationUrl(h.issuer, client.client_id).url, user.email);
    await submitForm(browser, page, '/password', { password: 'Wrong-Password-99!' });
    expect(await auditIps(h, 'login.failed', user.id)).toEqual(['127.0.0.1']);
  });
});
