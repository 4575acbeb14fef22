import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initI18n, translator } from '../../src/text/i18n.js';
import { PROJECT_ROOT } from '../../src/paths.js';
import { Views } from '../../src/text/views.js';

describe('texts on pages ({{t}}), remembered once translated', () => {
  let dir: string;
  let views: Views;

  beforeAll(async () => {
    await initI18n(path.join(PROJECT_ROOT, 'views'));
    dir = mkdtempSync(path.join(tmpdir(), 'monban-views-'));
    // Beside the built-in views (VIEWS_OVERRIDE_DIR): a page and a layout of nothing else.
    mkdirSync(path.join(dir, 'test'));
    writeFileSync(path.join(dir, 'test/layout.hbs'), '{{{body}}}');
    writeFileSync(
      path.join(dir, 'test/page.hbs'),
      '<p>{{t "login.continueTo" client=client}}</p><p>{{t "login.heading"}}</p>',
    );
    writeFileSync(path.join(dir, 'test/two.hbs'), '{{t "recovery.codeSentSms" phone=phone email=email}}');
    views = new Views(path.join(PROJECT_ROOT, 'views'), dir);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const render = (locale: 'ja' | 'en', client: unknown) =>
    views.html('test/page', { i18n: translator(locale), client }, 'test/layout');

  it('fills each parameter value in, in each language, however often the page is shown', () => {
    for (let round = 0; round < 3; round += 1) {
      expect(render('en', 'Shop')).toBe('<p>to continue to Shop</p><p>Log in</p>');
      expect(render('en', 'Bank')).toBe('<p>to continue to Bank</p><p>Log in</p>');
      expect(render('ja', 'Shop')).toContain('Shop に進むにはログインしてください');
    }
  });

  it('keeps two parameters apart when one value holds what could pass for the other', () => {
    const two = (phone: string, email: string) =>
      views.html('test/two', { i18n: translator('en'), phone, email }, 'test/layout');
    const text = (phone: string, email: string) =>
      `If ${phone} is the mobile number registered for ${email}, we have sent a verification code to it by text message.`;
    // Joined naively, each pair would be one key (phone=a, email=b, email=c; or, with the hash's
    // keys the other way round, email=a, phone=b, phone=c).
    expect(two('a\u0000email=b', 'c')).toBe(text('a\u0000email&#x3D;b', 'c'));
    expect(two('a', 'b\u0000email=c')).toBe(text('a', 'b\u0000email&#x3D;c'));
    expect(two('c', 'a\u0000phone=b')).toBe(text('c', 'a\u0000phone&#x3D;b'));
    expect(two('b\u0000phone=c', 'a')).toBe(text('b\u0000phone&#x3D;c', 'a'));
  });

  it('escapes a value for HTML, remembered or not', () => {
    expect(render('en', '<b>x</b>')).toContain('to continue to &lt;b&gt;x&lt;/b&gt;');
    expect(render('en', '<b>x</b>')).toContain('to continue to &lt;b&gt;x&lt;/b&gt;');
  });

  it('translates a value that is not a string or number each time', () => {
    expect(render('en', { toString: () => 'First' })).toContain('to continue to First');
    expect(render('en', { toString: () => 'Second' })).toContain('to continue to Second');
  });
});
