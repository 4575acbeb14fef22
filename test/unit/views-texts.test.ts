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

  it('keeps a value holding the separator apart from the value before it', () => {
    expect(render('en', 'A\u0000client="B"')).toContain('to continue to A');
    expect(render('en', 'A')).toBe('<p>to continue to A</p><p>Log in</p>');
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
