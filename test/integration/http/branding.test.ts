/**
 * Branding without forking: the operator's `branding` block (name, logo file, colour, support
 * links, footer per language) on pages and mails, and VIEWS_OVERRIDE_DIR, whose views and strings
 * win over the built-in ones.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ENGLISH, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { registerUser } from '../../helpers/fixtures.js';
import { HttpClient, submitForm } from '../../helpers/http-client.js';

// A 1x1 PNG: the operator's logo file.
const LOGO = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);
const COLOUR = '#c8102e';

describe('branding and the views override folder', () => {
  let h: AccountHarness;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'monban-brand-'));
    writeFileSync(path.join(dir, 'logo.png'), LOGO);
    const overrides = path.join(dir, 'views');
    mkdirSync(path.join(overrides, 'locales'), { recursive: true });
    mkdirSync(path.join(overrides, 'emails', 'email-lookup'), { recursive: true });
    // One string and one mail template of the operator's; everything else stays built in.
    writeFileSync(path.join(overrides, 'locales', 'en.json'), JSON.stringify({ nav: { help: 'Help centre' } }));
    writeFileSync(
      path.join(overrides, 'emails', 'email-lookup', 'subject.hbs'),
      '{{brand.productName}}: the address you asked about\n',
    );
    h = await startAccountHarness({
      branding: {
        productName: 'Kaisha ID',
        logo: path.join(dir, 'logo.png'),
        primaryColor: COLOUR,
        supportLinks: [{ label: { en: 'Service desk', ja: 'サービスデスク' }, url: 'https://desk.kaisha.example/' }],
        footerText: { en: 'Kaisha K.K., for employees and partners', ja: '株式会社カイシャ 社員・パートナー専用' },
      },
      viewsOverrideDir: overrides,
    });
  });
  afterAll(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("shows the operator's name, logo, colour, support link and footer on a page, in the page's language", async () => {
    const page = await new HttpClient(ENGLISH).request(`${h.issuer}/help`);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<title>[^<]*Kaisha ID<\/title>/);
    expect(page.body).toContain('<img class="brand-logo" src="/branding/logo"');
    expect(page.body).toContain('<link rel="stylesheet" href="/branding.css">');
    expect(page.body).toContain('<a href="https://desk.kaisha.example/" class="support-link">Service desk</a>');
    expect(page.body).toContain('Kaisha K.K., for employees and partners');
    expect(page.body).not.toContain('Monban');

    const japanese = await new HttpClient({ 'accept-language': 'ja' }).request(`${h.issuer}/help`);
    expect(japanese.body).toContain('株式会社カイシャ 社員・パートナー専用');
    expect(japanese.body).toContain('サービスデスク');

    const css = await fetch(`${h.issuer}/branding.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
    expect(await css.text()).toContain(`--accent: ${COLOUR}`);
    const logo = await fetch(`${h.issuer}/branding/logo`);
    expect(logo.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await logo.arrayBuffer()).equals(LOGO)).toBe(true);
  });

  it('lets a string of the override folder win over the built-in one', async () => {
    const page = await new HttpClient(ENGLISH).request(`${h.issuer}/help`);
    expect(page.body).toMatch(/<a href="\/help" id="help">Help centre<\/a>/);
  });

  it("puts the operator's logo, colour, name and footer in mails, and a mail template of the override folder wins", async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const form = await browser.request(`${h.issuer}/forgot-email`);
    expect((await submitForm(browser, form, '/forgot-email', { identifier: user.email })).status).toBe(200);
    const mail = await h.mail.waitFor(user.email, (m) => m.subject === 'Kaisha ID: the address you asked about');
    expect(mail.html).toContain(`<img src="${h.issuer}/branding/logo"`);
    expect(mail.html).toContain(`color:${COLOUR}`);
    expect(mail.html).toContain('Kaisha ID');
    expect(mail.html).toContain('Kaisha K.K., for employees and partners');
    expect(mail.html).not.toContain('Monban');
    expect(mail.text).not.toContain('Monban');
  });
});
