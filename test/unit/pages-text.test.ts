/**
 * The text of the pages and mails as a whole: every message the code or a view asks for exists in
 * Japanese and in English, both languages have the same messages, each thing is called by one
 * word (the term list in views/locales), and every page has the language menu.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ERRORS } from '../../src/errors.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LOCALES = ['ja', 'en'] as const;
type Lang = (typeof LOCALES)[number];

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full, ext) : full.endsWith(ext) ? [full] : [];
  });
}

function flatten(value: unknown, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, inner] of Object.entries(value as Record<string, unknown>)) {
    const name = prefix ? `${prefix}.${key}` : key;
    if (typeof inner === 'string') out.set(name, inner);
    else for (const [k, v] of flatten(inner, name)) out.set(k, v);
  }
  return out;
}

const messages = Object.fromEntries(
  LOCALES.map((lang) => [
    lang,
    flatten(JSON.parse(readFileSync(path.join(ROOT, 'views/locales', `${lang}.json`), 'utf8'))),
  ]),
) as Record<Lang, Map<string, string>>;
const sections = new Set([...messages.en.keys()].map((key) => key.split('.')[0]!));
const views = files(path.join(ROOT, 'views'), '.hbs');
const sources = files(path.join(ROOT, 'src'), '.ts');

/** A quoted string that names a message: a known top-level section, then dotted parts. */
const KEY = /["'`]([a-z][A-Za-z]+(?:\.[A-Za-z0-9_-]+)+)["'`]/g;

function keysNamedIn(text: string): string[] {
  return [...text.matchAll(KEY)].map((m) => m[1]!).filter((key) => sections.has(key.split('.')[0]!));
}

/** Keys built at run time from a list the code holds (`errors.${code}` and the like). */
function builtKeys(): string[] {
  const render = readFileSync(path.join(ROOT, 'src/flows/settings/render.ts'), 'utf8');
  const done = [...(/const DONE = \[([\s\S]*?)\]/.exec(render)?.[1] ?? '').matchAll(/'([^']+)'/g)].map((m) => m[1]!);
  const section = [...(/export type Section = ([^;]+);/.exec(render)?.[1] ?? '').matchAll(/'([^']+)'/g)].map(
    (m) => m[1]!,
  );
  const notices = sources.flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/notice: '([A-Za-z]+)'/g)].map((m) => m[1]!),
  );
  const noticeKeys = notices
    .filter((notice) => notice !== 'password_changed')
    .map((notice) => `emails.securityNotice.${notice}.intro`);
  return [
    ...Object.keys(ERRORS).map((code) => `errors.${code}`),
    ...done.map((what) => `account.done.${what}`),
    ...section.map((name) => `account.${name}.title`),
    ...noticeKeys,
  ];
}

/** What a reader sees of a template: no {{…}} expressions, comments or HTML tags. */
function visibleText(template: string): string {
  return template
    .replace(/{{!--[\s\S]*?--}}/g, ' ')
    .replace(/{{[\s\S]*?}}/g, ' ')
    .replace(/<[^>]*>/g, ' ');
}

describe('the text of pages and mails', () => {
  it('has the same messages in Japanese and English, none of them empty', () => {
    expect([...messages.ja.keys()].sort()).toEqual([...messages.en.keys()].sort());
    for (const lang of LOCALES) {
      expect([...messages[lang]].filter(([, text]) => !text.trim()).map(([key]) => `${lang}: ${key}`)).toEqual([]);
    }
  });

  it('has every message a view or the code asks for, in both languages', () => {
    const asked = new Map<string, string>();
    // Settings paths (config/) and audit event types ("login.failed") look like keys but are not.
    const audit = readFileSync(path.join(ROOT, 'src/security/audit.ts'), 'utf8');
    const auditTypes = new Set(keysNamedIn(/export type AuditType =([^;]+);/.exec(audit)?.[1] ?? ''));
    expect(auditTypes.size).toBeGreaterThan(10);
    const code = sources.filter((file) => !/src\/config\//.test(file));
    for (const file of [...views, ...code]) {
      for (const key of keysNamedIn(readFileSync(file, 'utf8'))) {
        if (!auditTypes.has(key)) asked.set(key, path.relative(ROOT, file));
      }
    }
    for (const key of builtKeys()) asked.set(key, '(built)');
    expect(asked.size).toBeGreaterThan(300);
    const missing = [...asked].flatMap(([key, where]) =>
      LOCALES.filter((lang) => !messages[lang].has(key)).map((lang) => `${lang}: ${key} (${where})`),
    );
    expect(missing).toEqual([]);
  });

  it.each(LOCALES)('calls each thing by one word in %s (the term list in the locale)', (lang) => {
    const use = messages[lang].get('terms.use')!.split(', ');
    const avoid = messages[lang].get('terms.avoid')!.split(', ');
    expect(use.length).toBeGreaterThan(5);
    expect(avoid.length).toBeGreaterThan(5);
    const texts: [where: string, text: string][] = [
      ...[...messages[lang]]
        .filter(([key]) => !key.startsWith('terms.'))
        .map(([key, text]) => [key, text] as [string, string]),
      // Text written into the views themselves, outside the locale files.
      ...views.map((file) => [path.relative(ROOT, file), visibleText(readFileSync(file, 'utf8'))] as [string, string]),
    ];
    const blank = (text: string) => use.reduce((rest, word) => rest.split(word).join(' '), text);
    const found = texts.flatMap(([where, text]) => {
      const rest = blank(text).toLowerCase();
      return avoid.filter((word) => rest.includes(word.toLowerCase())).map((word) => `${where}: "${word}"`);
    });
    expect(found).toEqual([]);
    // The words chosen are the words used.
    const all = texts.map(([, text]) => text).join('\n');
    expect(use.filter((word) => !all.includes(word))).toEqual([]);
  });

  it('renders every page in the one layout, whose header holds the language menu with an SVG globe', () => {
    const layout = readFileSync(path.join(ROOT, 'views/layouts/main.hbs'), 'utf8');
    expect(layout).toMatch(/<nav class="globe" aria-label="{{t "nav.language"}}" id="language-menu">\s*<svg /);
    expect(layout).toContain('{{#each languages}}');
    expect(layout).not.toMatch(/\p{Extended_Pictographic}/u);
    // A page never brings a layout of its own: the views are fragments inside layouts/main.
    const pages = views.filter((file) => !/\/(layouts|emails|sms|partials)\//.test(file));
    expect(pages.length).toBeGreaterThan(30);
    expect(pages.filter((file) => /<html|<body|<!DOCTYPE/i.test(readFileSync(file, 'utf8')))).toEqual([]);
    // HTML reaches the browser only through sendHtml (http/page.ts), which renders into the layout.
    const htmlWriters = sources.filter((file) => /ctx\.type = 'html'/.test(readFileSync(file, 'utf8')));
    expect(htmlWriters.map((file) => path.relative(ROOT, file))).toEqual(['src/http/page.ts']);
  });
});
