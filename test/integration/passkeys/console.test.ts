import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server';
import {
  asksForPassword,
  auditTypes,
  landed,
  open,
  signedInUser,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { HttpClient, submitForm, unescapeHtml, type PageResponse } from '../../helpers/http-client.js';
import { signInToAccount } from '../../helpers/account.js';
import { TEST_PASSWORD } from '../../helpers/fixtures.js';
import { SoftwareAuthenticator } from '../../helpers/software-authenticator.js';

/** The options for navigator.credentials.create() that the add page carries. */
function creationOptions(page: PageResponse): PublicKeyCredentialCreationOptionsJSON {
  const json = page.body.match(/<script type="application\/json" id="passkey-options">([\s\S]*?)<\/script>/)?.[1];
  if (!json) throw new Error(`no passkey options on ${page.url}`);
  return JSON.parse(json) as PublicKeyCredentialCreationOptionsJSON;
}

/** The passkeys listed on the security page: [name, the rest of the line]. */
function listed(html: string): string[] {
  return [...html.matchAll(/<li data-passkey-id="[^"]+">\s*<span>([\s\S]*?)<\/span>\s*<form/g)].map((m) =>
    unescapeHtml(m[1]!.replace(/<[^>]*>/g, ''))
      .replace(/\s+/g, ' ')
      .trim(),
  );
}

describe('passkeys in the account console', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness();
  }, 180_000);
  afterAll(async () => {
    await h?.close();
  });

  async function addPage(browser: HttpClient, password = TEST_PASSWORD): Promise<PageResponse> {
    const security = await open(browser, h.issuer, '/account/security');
    const started = await submitForm(browser, security, '/passkeys/start', { current_password: password });
    if (started.status !== 303) return started;
    return landed(browser, started);
  }

  it('adds a passkey after the password, lists it with its dates, renames and removes it, mailing the owner', async () => {
    const { user, browser } = await signedInUser(h);
    const security = await open(browser, h.issuer, '/account/security');
    expect(security.body).toContain('No passkey yet.');
    expect(asksForPassword(security.body)).toBe(true);

    // A wrong password goes no further.
    const refused = await addPage(browser, 'Wrong-Password-1!');
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('Your current password is not right.');

    const page = await addPage(browser);
    expect(page.url).toBe(`${h.issuer}/account/security/passkeys/new`);
    expect(page.body).toContain('<script src="/static/vendor/simplewebauthn-browser.js" defer></script>');
    const options = creationOptions(page);
    expect(options.rp.id).toBe('localhost');
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'required' });
    expect(options.user.name).toBe(user.email);

    const authenticator = new SoftwareAuthenticator(h.issuer, Buffer.from('ea9b8d664d011d213ce4b6b48cb575d4', 'hex'));
    const added = await submitForm(browser, page, '/account/security/passkeys', {
      name: 'Pixel 9',
      response: JSON.stringify(authenticator.create(options)),
    });
    expect(added.location).toBe(`${h.issuer}/account/security?done=passkey-added`);
    let shown = await landed(browser, added);
    expect(shown.body).toContain('The passkey is added.');
    // The same long date as the rest of the security page, in the account's zone.
    const { zoneinfo } = await h.app.db
      .selectFrom('accounts')
      .select('zoneinfo')
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    const today = new Intl.DateTimeFormat('en', { timeZone: zoneinfo ?? 'UTC', dateStyle: 'long' }).format(new Date());
    expect(listed(shown.body)).toEqual([`Pixel 9 · Google Password Manager · added ${today} · not used yet`]);
    const addedMail = await h.mail.waitFor(user.email, (m) => m.subject.includes('passkey was added'));
    expect(addedMail.text).toContain('"Pixel 9"');

    // Within the five minutes after the password, rename and remove ask for it no more.
    expect(asksForPassword(shown.body)).toBe(false);
    const renamed = await submitForm(browser, shown, '/passkeys/rename', { name: 'My phone' });
    shown = await landed(browser, renamed);
    expect(listed(shown.body)[0]).toMatch(/^My phone · Google Password Manager/);

    const removed = await submitForm(browser, shown, '/passkeys/remove', {});
    shown = await landed(browser, removed);
    expect(shown.body).toContain('The passkey is removed.');
    expect(listed(shown.body)).toEqual([]);
    const removedMail = await h.mail.waitFor(user.email, (m) => m.subject.includes('passkey was removed'));
    expect(removedMail.text).toContain('"My phone"');
    expect(await auditTypes(h.app, user.id)).toEqual(
      expect.arrayContaining(['passkey.added', 'passkey.renamed', 'passkey.removed']),
    );
  });

  it('refuses an answer from another origin, and one for another session’s challenge', async () => {
    const { user, browser } = await signedInUser(h);
    const page = await addPage(browser);
    const options = creationOptions(page);
    const phishing = new SoftwareAuthenticator('http://login.example.net');
    const refused = await submitForm(browser, page, '/account/security/passkeys', {
      name: 'x',
      response: JSON.stringify(phishing.create(options)),
    });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('That passkey could not be used.');

    // The same account in another browser (another session) cannot use this session's challenge.
    const other = new HttpClient({ 'accept-language': 'en' });
    await signInToAccount(other, h.issuer, user.email);
    const otherPage = await addPage(other);
    const answer = new SoftwareAuthenticator(h.issuer).create(options);
    const foreign = await submitForm(other, otherPage, '/account/security/passkeys', {
      name: 'y',
      response: JSON.stringify(answer),
    });
    expect(foreign.status).toBe(401);
    const security = await open(browser, h.issuer, '/account/security');
    expect(listed(security.body)).toEqual([]);
  });

  it('the add page and its form need the password just confirmed', async () => {
    const { browser } = await signedInUser(h);
    const page = await open(browser, h.issuer, '/account/security/passkeys/new');
    expect(page.status).toBe(303);
    expect(page.location).toBe(`${h.issuer}/account/security`);
  });
});
