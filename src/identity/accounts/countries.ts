import { createRequire } from 'node:module';
import countries from 'i18n-iso-countries';
import type { Locale } from '../../http/i18n.js';

const require = createRequire(import.meta.url);
countries.registerLocale(require('i18n-iso-countries/langs/ja.json'));
countries.registerLocale(require('i18n-iso-countries/langs/en.json'));

const CODES = Object.keys(countries.getAlpha2Codes());
const lists = new Map<Locale, { code: string; name: string }[]>();

/** Every ISO 3166-1 country, named and sorted in the page's language (C1). */
export function countryOptions(locale: Locale): { code: string; name: string }[] {
  let list = lists.get(locale);
  if (!list) {
    const collator = new Intl.Collator(locale);
    list = CODES
      .map((code) => ({ code, name: countries.getName(code, locale, { select: 'official' }) ?? code }))
      .sort((a, b) => collator.compare(a.name, b.name));
    lists.set(locale, list);
  }
  return list;
}

export function isCountryCode(code: string): boolean {
  return CODES.includes(code);
}
