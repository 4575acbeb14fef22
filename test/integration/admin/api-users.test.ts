import { randomBytes } from 'node:crypto';
import { isActive, rpSignIn, startAccountHarness, ENGLISH, type AccountHarness } from '../../helpers/account.js';
import { AdminApiClient, registerAdminClient } from '../../helpers/admin-api.js';
import { en, registerClient, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { alertText, HttpClient } from '../../helpers/http-client.js';
import { givesRpACode, isSecondStep, rpLogin, userWithTotp } from '../../helpers/mfa.js';

interface User {
  id: string;
  email: string;
  email_verified: boolean;
  given_name: string;
  family_name: string;
  locale: string;
  zoneinfo: string | null;
  phone_number: string | null;
  status: string;
  locked: boolean;
  mfa_enabled: boolean;
  require_phishing_resistant: boolean;
}
interface Problem {
  status: number;
  code: string;
  detail?: string;
  errors?: { field: string; code?: string; message: string }[];
}
interface Page<T> {
  items: T[];
  next: string | null;
}

describe('admin API: users', () => {
  let h: AccountHarness;
  let api: AdminApiClient;
  let admin: { client_id: string; client_secret: string };
  let rp: Awaited<ReturnType<typeof registerClient>>;
  const tag = randomBytes(4).toString('hex');

  beforeAll(async () => {
    h = await startAccountHarness();
    admin = await registerAdminClient(h.app);
    rp = await registerClient(h.app);
    api = new AdminApiClient(h.issuer);
    await api.loadDocument();
    await api.authenticate(admin);
  });
  afterAll(async () => {
    await h?.close();
  });

  async function actorsOf(accountId: string): Promise<{ type: string; actor: string | null }[]> {
    return h.app.db
      .selectFrom('audit_events')
      .select(['type', 'actor'])
      .where('account_id', '=', accountId)
      .orderBy('id')
      .execute();
  }

  /** The password step's answer for an account: the RP gets a code, or the page says why not. */
  async function tryLogin(email: string) {
    return rpLogin(h, rp, email);
  }

  it('creates an active user with a verified address who can log in; pending on request; the policy applies', async () => {
    const email = `Api-${tag}@Example.com`;
    const res = await api.call<User>('POST', '/users', {
      body: {
        email,
        password: TEST_PASSWORD,
        given_name: 'Hanako',
        family_name: 'Yamada',
        locale: 'en',
        zoneinfo: 'Asia/Tokyo',
      },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      email: email.toLowerCase(),
      email_verified: true,
      status: 'active',
      locale: 'en',
      zoneinfo: 'Asia/Tokyo',
      locked: false,
      mfa_enabled: false,
    });
    expect(res.headers.get('location')).toBe(`/admin/api/v1/users/${res.body.id}`);
    expect(givesRpACode((await tryLogin(email)).page)).toBe(true);
    expect(await actorsOf(res.body.id)).toContainEqual({ type: 'admin.user.created', actor: admin.client_id });

    const pending = await api.call<User>('POST', '/users', {
      body: {
        email: `pending-${tag}@example.com`,
        password: TEST_PASSWORD,
        given_name: 'P',
        family_name: 'Q',
        status: 'pending',
      },
    });
    expect(pending.body).toMatchObject({ status: 'pending', email_verified: false });

    const taken = await api.call<Problem>('POST', '/users', {
      body: { email, password: TEST_PASSWORD, given_name: 'A', family_name: 'B' },
    });
    expect([taken.status, taken.body.code]).toEqual([409, 'EMAIL_TAKEN']);

    const weak = await api.call<Problem>('POST', '/users', {
      body: { email: `weak-${tag}@example.com`, password: 'short', given_name: 'A', family_name: 'B' },
    });
    expect(weak.status).toBe(400);
    expect(weak.body.errors!.map((e) => e.code)).toContain('PASSWORD_TOO_SHORT');

    const badFields = await api.call<Problem>('POST', '/users', {
      body: {
        email: `tz-${tag}@example.com`,
        password: TEST_PASSWORD,
        given_name: 'A',
        family_name: 'B',
        zoneinfo: 'Mars/Base',
        phone_number: '123',
      },
    });
    expect(badFields.status).toBe(400);
    expect(badFields.body.errors!.map((e) => e.code).sort()).toEqual(['PHONE_INVALID', 'TIMEZONE_INVALID']);
  });

  it('searches by email prefix, status and company with a keyset cursor', async () => {
    const prefix = `search-${tag}-`;
    for (const n of [1, 2, 3]) await registerUser(h.app, { email: `${prefix}${n}@example.com` });
    const held = await registerUser(h.app, { email: `${prefix}4@example.com`, status: 'on_hold' });
    await h.app.db
      .updateTable('accounts')
      .set({ company_name: `Kaisha ${tag}` })
      .where('id', '=', held.id)
      .execute();

    const emails: string[] = [];
    let path = `/users?email_prefix=${prefix.toUpperCase()}&limit=3`;
    for (let pages = 0; pages < 5; pages++) {
      const res = await api.call<Page<User>>('GET', path);
      expect(res.status).toBe(200);
      emails.push(...res.body.items.map((u) => u.email));
      if (!res.body.next) break;
      expect(res.headers.get('link')).toContain(`after=${res.body.next}`);
      path = `/users?email_prefix=${prefix}&limit=3&after=${res.body.next}`;
    }
    expect(emails).toEqual([1, 2, 3, 4].map((n) => `${prefix}${n}@example.com`));

    const onHold = await api.call<Page<User>>('GET', `/users?email_prefix=${prefix}&status=on_hold`);
    expect(onHold.body.items.map((u) => u.id)).toEqual([held.id]);
    const company = await api.call<Page<User>>('GET', `/users?company=kaisha%20${tag}`);
    expect(company.body.items.map((u) => u.id)).toEqual([held.id]);
    // A prefix is a prefix, not a pattern.
    expect((await api.call<Page<User>>('GET', `/users?email_prefix=search-${tag}_`)).body.items).toEqual([]);
    expect((await api.call<Problem>('GET', '/users?status=gone')).status).toBe(400);
  });

  it('gets and updates profile fields; a new phone number is unverified', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const got = await api.call<User>('GET', `/users/${user.id}`);
    expect(got.body).toMatchObject({ id: user.id, email: user.email, given_name: 'Hanako' });
    const patched = await api.call<User>('PATCH', `/users/${user.id}`, {
      body: { given_name: 'Hana', locale: 'ja', zoneinfo: 'Europe/Paris', phone_number: '+819012345678' },
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      given_name: 'Hana',
      locale: 'ja',
      zoneinfo: 'Europe/Paris',
      phone_number: '+819012345678',
    });
    expect(await actorsOf(user.id)).toContainEqual({ type: 'admin.user.updated', actor: admin.client_id });
    const refused = await api.call<Problem>('PATCH', `/users/${user.id}`, { body: { email: 'new@example.com' } });
    expect([refused.status, refused.body.code]).toEqual([400, 'INVALID_INPUT']);
    expect((await api.call<Problem>('GET', '/users/not-a-uuid')).status).toBe(404);
    expect((await api.call<Problem>('GET', `/users/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}`)).status).toBe(
      404,
    );
  });

  it.each([
    ['hold', 'release', 'on_hold', 'errors.ACCOUNT_ON_HOLD', 'account.held', 'account.released'],
    ['disable', 'enable', 'disabled', 'errors.ACCOUNT_DISABLED', 'account.disabled', 'account.enabled'],
  ] as const)(
    '%s ends the tokens and refuses the login with its message; %s lets the user back in',
    async (put, back, status, message, putEvent, backEvent) => {
      const user = await registerUser(h.app, { locale: 'en' });
      const tokens = await rpSignIn(new HttpClient(ENGLISH), h.issuer, rp, user.email, TEST_PASSWORD);
      const res = await api.call<User>('POST', `/users/${user.id}/${put}`, { body: { reason: 'checks pending' } });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe(status);
      expect(await isActive(h.issuer, rp, tokens.access_token)).toBe(false);
      const refused = (await tryLogin(user.email)).page;
      expect(refused.status).toBe(403);
      expect(alertText(refused.body)).toBe(en(message));

      // The wrong way back is refused: enable lifts a disable, release a hold.
      const wrongWay = back === 'release' ? 'enable' : 'release';
      const conflict = await api.call<Problem>('POST', `/users/${user.id}/${wrongWay}`);
      expect([conflict.status, conflict.body.code]).toEqual([409, 'STATUS_CONFLICT']);

      expect((await api.call<User>('POST', `/users/${user.id}/${back}`)).body.status).toBe('active');
      expect(givesRpACode((await tryLogin(user.email)).page)).toBe(true);
      const events = await actorsOf(user.id);
      expect(events).toContainEqual({ type: putEvent, actor: admin.client_id });
      expect(events).toContainEqual({ type: backEvent, actor: admin.client_id });
    },
  );

  it('sets the company policy that requires a passkey or security key (issue 17); the login then says why', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    expect((await api.call<User>('GET', `/users/${user.id}`)).body.require_phishing_resistant).toBe(false);
    const patched = await api.call<User>('PATCH', `/users/${user.id}`, { body: { require_phishing_resistant: true } });
    expect(patched.status).toBe(200);
    expect(patched.body.require_phishing_resistant).toBe(true);
    const refused = (await tryLogin(user.email)).page;
    expect(refused.status).toBe(403);
    expect(alertText(refused.body)).toBe(en('errors.PHISHING_RESISTANT_REQUIRED'));
    const lifted = await api.call<User>('PATCH', `/users/${user.id}`, { body: { require_phishing_resistant: false } });
    expect(lifted.body.require_phishing_resistant).toBe(false);
    expect(givesRpACode((await tryLogin(user.email)).page)).toBe(true);
    expect(await actorsOf(user.id)).toContainEqual({ type: 'admin.user.updated', actor: admin.client_id });
  });

  it('unlocks an account locked after too many wrong passwords', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    await h.app.db.updateTable('accounts').set({ locked_at: new Date() }).where('id', '=', user.id).execute();
    expect((await api.call<User>('GET', `/users/${user.id}`)).body.locked).toBe(true);
    expect(givesRpACode((await tryLogin(user.email)).page)).toBe(false);
    const res = await api.call<User>('POST', `/users/${user.id}/unlock`);
    expect(res.body.locked).toBe(false);
    expect(givesRpACode((await tryLogin(user.email)).page)).toBe(true);
    expect(await actorsOf(user.id)).toContainEqual({ type: 'account.unlocked', actor: admin.client_id });
  });

  it('removes MFA: the user logs in with the password alone and is mailed; it is audited', async () => {
    const { user } = await userWithTotp(h);
    expect(isSecondStep((await tryLogin(user.email)).page)).toBe(true);
    const res = await api.call<User>('POST', `/users/${user.id}/reset-mfa`);
    expect(res.status).toBe(200);
    expect(res.body.mfa_enabled).toBe(false);
    expect(givesRpACode((await tryLogin(user.email)).page)).toBe(true);
    const mail = await h.mail.waitFor(
      user.email,
      (m) => m.subject === en('emails.securityNotice.mfaRemovedByAdmin.subject'),
    );
    expect(mail.text).toContain(en('emails.securityNotice.mfaRemovedByAdmin.intro'));
    expect(await actorsOf(user.id)).toContainEqual({ type: 'admin.user.mfa_removed', actor: admin.client_id });
  });

  it('ends every session and token of a user', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const tokens = await rpSignIn(new HttpClient(ENGLISH), h.issuer, rp, user.email, TEST_PASSWORD, {
      scope: 'openid offline_access',
      prompt: 'consent',
    });
    const res = await api.call<User>('POST', `/users/${user.id}/revoke-sessions`);
    expect(res.status).toBe(200);
    expect(await isActive(h.issuer, rp, tokens.access_token)).toBe(false);
    expect(await isActive(h.issuer, rp, tokens.refresh_token!)).toBe(false);
    expect(await actorsOf(user.id)).toContainEqual({ type: 'admin.user.sessions_revoked', actor: admin.client_id });
  });

  it('needs the users scopes; each documented success of the users was seen', async () => {
    const clientsOnly = new AdminApiClient(h.issuer);
    await clientsOnly.authenticate(admin, ['admin:clients.read', 'admin:users.read']);
    expect((await clientsOnly.call('GET', '/users')).status).toBe(200);
    const write = await clientsOnly.call<Problem>(
      'POST',
      `/users/${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}/disable`,
    );
    expect([write.status, write.body.code]).toEqual([403, 'INSUFFICIENT_SCOPE']);
    for (const success of api.documentedSuccesses().filter((s) => s.includes('/users')))
      expect(api.seen).toContain(success);
  });
});
