import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ERROR_CODES } from '../../src/errors.js';
import { PROJECT_ROOT } from '../../src/paths.js';

/** Every message of a locale file, by its dotted key. */
function messages(locale: 'ja' | 'en'): Map<string, unknown> {
  const file = path.join(PROJECT_ROOT, 'views', 'locales', `${locale}.json`);
  const flat = new Map<string, unknown>();
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      if (value !== null && typeof value === 'object') walk(value as Record<string, unknown>, `${prefix}${key}.`);
      else flat.set(`${prefix}${key}`, value);
    }
  };
  walk(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>, '');
  return flat;
}

/** The keys the templates (pages and mails) ask for by name: {{t "key" ...}} and (t "key" ...). */
function keysUsedByTemplates(): string[] {
  const keys = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else if (entry.name.endsWith('.hbs'))
        for (const match of readFileSync(file, 'utf8').matchAll(/[{(]t "([^"]+)"/g)) keys.add(match[1]!);
    }
  };
  walk(path.join(PROJECT_ROOT, 'views'));
  return [...keys].sort();
}

describe('messages in Japanese and English (views/locales)', () => {
  const ja = messages('ja');
  const en = messages('en');

  it('every message key has a text in both languages', () => {
    const missing = (from: Map<string, unknown>, to: Map<string, unknown>) =>
      [...from.keys()].filter((key) => typeof to.get(key) !== 'string' || to.get(key) === '');
    expect({ missingInEnglish: missing(ja, en), missingInJapanese: missing(en, ja) }).toEqual({
      missingInEnglish: [],
      missingInJapanese: [],
    });
  });

  it('every error code of the catalogue (src/errors.ts) has its text in both languages', () => {
    const missing = ERROR_CODES.filter((code) => !ja.get(`errors.${code}`) || !en.get(`errors.${code}`));
    expect(missing).toEqual([]);
  });

  it('every key a page or mail template asks for exists in both languages', () => {
    const used = keysUsedByTemplates();
    expect(used.length).toBeGreaterThan(100);
    expect(used.filter((key) => !ja.has(key) || !en.has(key))).toEqual([]);
  });
});
