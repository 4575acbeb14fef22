import countries from 'i18n-iso-countries';
import type { Locale } from '../../text/i18n.js';

const CODES = Object.keys(countries.getAlpha2Codes());
const KNOWN = new Set(CODES);
const lists = new Map<Locale, { code: string; name: string }[]>();

// CLDR's long names are the ones people use ("韓国", "South Korea"), except for these two, whose
// long names are administrative ("中華人民共和国香港特別行政区", "Hong Kong SAR China").
const SHORT_NAMED = new Set(['HK', 'MO']);

/**
 * How the Japanese names that open with kanji are read: Intl.Collator('ja') sorts by code point
 * for kanji, which would put 日本, 中国, 韓国, 台湾 and 香港 after every name in katakana. With
 * its reading, each name sorts in the 五十音 order a Japanese reader looks for it in.
 */
const JA_READINGS: Record<string, string> = {
  AQ: 'なんきょく',
  AS: 'べいりょうさもあ',
  CF: 'ちゅうおうあふりかきょうわこく',
  CN: 'ちゅうごく',
  EH: 'にしさはら',
  GF: 'ふつりょうぎあな',
  GQ: 'せきどうぎにあ',
  HK: 'ほんこん',
  IO: 'えいりょういんどようちいき',
  JP: 'にほん',
  KP: 'きたちょうせん',
  KR: 'かんこく',
  MK: 'きたまけどにあ',
  MP: 'きたまりあなしょとう',
  PF: 'ふつりょうぽりねしあ',
  SS: 'みなみすーだん',
  TF: 'ふつりょうきょくなんしょとう',
  TL: 'ひがしてぃもーる',
  TW: 'たいわん',
  UM: 'がっしゅうこくりょうゆうしょうりとう',
  VG: 'えいりょうゔぁーじんしょとう',
  VI: 'べいりょうゔぁーじんしょとう',
  ZA: 'みなみあふりか',
};

/** Every ISO 3166-1 country by CLDR's name in the page's language, in the order its readers sort (C1). */
export function countryOptions(locale: Locale): { code: string; name: string }[] {
  let list = lists.get(locale);
  if (!list) {
    const long = new Intl.DisplayNames([locale], { type: 'region' });
    const short = new Intl.DisplayNames([locale], { type: 'region', style: 'short' });
    const collator = new Intl.Collator(locale);
    const reading = (entry: { code: string; name: string }) =>
      (locale === 'ja' ? JA_READINGS[entry.code] : undefined) ?? entry.name;
    list = CODES.map((code) => ({ code, name: (SHORT_NAMED.has(code) ? short : long).of(code) ?? code })).sort((a, b) =>
      collator.compare(reading(a), reading(b)),
    );
    lists.set(locale, list);
  }
  return list;
}

export function isCountryCode(code: string): boolean {
  return KNOWN.has(code);
}

/**
 * The country the browser's languages point at (Accept-Language, RFC 9110 12.5.4): the region of
 * the first tag that has one ("ja-JP", "en-US"); Japanese without a region means Japan.
 */
export function countryOfLanguages(acceptLanguage: string | undefined): string | undefined {
  for (const part of (acceptLanguage ?? '').split(',')) {
    const tag = part.split(';')[0]?.trim() ?? '';
    if (/^ja$/i.test(tag)) return 'JP';
    const region = /^[a-z]{2,3}(?:-[a-z]{4})?-([a-z]{2})$/i.exec(tag)?.[1]?.toUpperCase();
    if (region && KNOWN.has(region)) return region;
  }
  return undefined;
}
