import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parsePhoneNumber } from 'libphonenumber-js/max';
import type { Locale } from './i18n.js';

/*
 * How values are written for a reader, in one place: people's names, phone numbers, times and
 * time zones. Pages (through the view helpers in views.ts), mails and ID tokens all use these,
 * so a name or a number never reads one way on one page and another way on the next.
 */

export interface PersonName {
  given_name: string;
  family_name: string;
}

// Names written in Chinese characters, kana or hangul are written family name first, whatever
// the language of the page around them ("佐藤 花子" also on an English page).
const EAST_ASIAN_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

/**
 * A person's full name as the page language writes it: Japanese family name first
 * ("佐藤 花子"), English given name first ("Hanako Sato"), East Asian scripts always family first.
 * Honorifics (様) belong to the sentence around it, in the locale files.
 */
export function personName(name: PersonName, locale: Locale): string {
  const given = name.given_name.trim();
  const family = name.family_name.trim();
  const familyFirst = locale === 'ja' || EAST_ASIAN_SCRIPT.test(given + family);
  return (familyFirst ? [family, given] : [given, family]).filter(Boolean).join(' ');
}

/**
 * An E.164 number as people read it, "+81 90 1234 5678". Masked, only the country code and the
 * last four digits stay: "+81 ** **** 5678", enough to recognise one's own number, not to learn it.
 */
export function formatPhone(e164: string, options: { masked?: boolean } = {}): string {
  let international: string;
  let countryCode: string;
  try {
    const phone = parsePhoneNumber(e164);
    international = phone.formatInternational();
    countryCode = phone.countryCallingCode;
  } catch {
    international = e164;
    countryCode = '';
  }
  if (!options.masked) return international;
  const prefix = `+${countryCode}`;
  const rest = international.startsWith(prefix) ? international.slice(prefix.length) : international.slice(1);
  const digits = rest.replace(/\D/g, '').length;
  let seen = 0;
  return (
    prefix +
    rest.replace(/\d/g, (digit) => {
      seen += 1;
      return seen > digits - 4 ? digit : '*';
    })
  );
}

// ---- Time and time zones ----

/** Time zones a user can choose, as Intl knows them (CLDR's IDs), and UTC. */
export const TIME_ZONES: readonly string[] = ['UTC', ...Intl.supportedValuesOf('timeZone')];
const KNOWN_ZONES = new Set(TIME_ZONES);

/** The zone's canonical ID ("Asia/Kolkata" → "Asia/Calcutta"), or undefined for no zone Intl knows. */
export function canonicalTimeZone(zone: unknown): string | undefined {
  if (typeof zone !== 'string' || !zone || zone.length > 64) return undefined;
  try {
    const canonical = new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
    return KNOWN_ZONES.has(canonical) ? canonical : canonical === 'Etc/UTC' ? 'UTC' : undefined;
  } catch {
    return undefined;
  }
}

/** When neither the account nor the browser says: Japan for Japanese pages, UTC otherwise. */
export function defaultTimeZone(locale: Locale): string {
  return locale === 'ja' ? 'Asia/Tokyo' : 'UTC';
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(locale: Locale, timeZone: string, withTime: boolean): Intl.DateTimeFormat {
  const key = `${locale}|${timeZone}|${withTime ? 't' : 'd'}`;
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat(locale, {
      timeZone,
      year: 'numeric',
      month: 'long',
      day: 'numeric',
      ...(withTime ? { hour: 'numeric', minute: '2-digit', timeZoneName: 'long' } : {}),
    });
    formatters.set(key, found);
  }
  return found;
}

function toDate(value: Date | string | number): Date | undefined {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/**
 * A moment in the page language and the reader's zone, with the zone's name:
 * "2026年12月2日 3:53 日本標準時", "December 2, 2026 at 3:53 AM Japan Standard Time".
 */
export function formatDateTime(value: Date | string | number, locale: Locale, timeZone: string): string {
  const date = toDate(value);
  return date ? formatter(locale, canonicalTimeZone(timeZone) ?? 'UTC', true).format(date) : '';
}

/** A day in the page language and the reader's zone: "2026年12月2日", "December 2, 2026". */
export function formatDate(value: Date | string | number, locale: Locale, timeZone: string): string {
  const date = toDate(value);
  return date ? formatter(locale, canonicalTimeZone(timeZone) ?? 'UTC', false).format(date) : '';
}

let cities: Partial<Record<Locale, Record<string, string>>> = {};

/** CLDR's city names of the zones (views/locales/time-zone-cities.json), read once at start. */
export function loadTimeZoneCities(viewsDir: string): void {
  const file = path.join(viewsDir, 'locales', 'time-zone-cities.json');
  cities = JSON.parse(readFileSync(file, 'utf8')) as typeof cities;
}

/** CLDR's city for a zone; without a name of its own, the ID's last part ("Los Angeles"). */
function city(zone: string, locale: Locale): string {
  return cities[locale]?.[zone] ?? cities.en?.[zone] ?? (zone.split('/').pop() ?? zone).replace(/_/g, ' ');
}

function zoneNamePart(zone: string, locale: Locale, style: 'long' | 'longGeneric' | 'longOffset', at: Date): string {
  return (
    new Intl.DateTimeFormat(locale, { timeZone: zone, timeZoneName: style })
      .formatToParts(at)
      .find((part) => part.type === 'timeZoneName')?.value ?? ''
  );
}

/**
 * A zone as people recognise it: Intl's long name and CLDR's city, "日本標準時 (東京)",
 * "Pacific Time (Los Angeles)"; UTC is "協定世界時" / "Coordinated Universal Time".
 */
export function timeZoneName(zone: string, locale: Locale, at = new Date()): string {
  if (zone === 'UTC') return zoneNamePart(zone, locale, 'long', at);
  // The generic name ("Pacific Time") holds all year; where CLDR has none Intl answers "GMT+3".
  const generic = zoneNamePart(zone, locale, 'longGeneric', at);
  const name = /^GMT([+-]|$)/.test(generic) ? zoneNamePart(zone, locale, 'long', at) : generic;
  const where = city(zone, locale);
  return /^GMT([+-]|$)/.test(name) ? where : `${name} (${where})`;
}

export interface TimeZoneOption {
  zone: string;
  label: string;
}

// A zone's name holds all year (the generic "Pacific Time"): worked out once per language. Its
// offset changes with daylight saving time: worked out again after an hour. Building an
// Intl.DateTimeFormat per zone is what costs, so neither is done per page.
const zoneNames = new Map<string, string>();
let zoneOffsets: ZoneOffsets | undefined;
const zoneMenus = new Map<Locale, { at: number; menu: TimeZoneOption[] }>();

function cachedZoneName(zone: string, locale: Locale, at: Date): string {
  const key = `${locale}|${zone}`;
  let name = zoneNames.get(key);
  if (name === undefined) {
    name = timeZoneName(zone, locale, at);
    zoneNames.set(key, name);
  }
  return name;
}

const offsetFormatters = new Map<string, Intl.DateTimeFormat>();

function offsetPart(zone: string, at: Date): string {
  let found = offsetFormatters.get(zone);
  if (!found) {
    found = new Intl.DateTimeFormat('en', { timeZone: zone, timeZoneName: 'longOffset' });
    offsetFormatters.set(zone, found);
  }
  return found.formatToParts(at).find((part) => part.type === 'timeZoneName')?.value ?? '';
}

interface ZoneOffsets {
  at: number;
  offsets: Map<string, { minutes: number; label: string }>;
}

function currentOffsets(at: Date): ZoneOffsets {
  if (zoneOffsets && Math.abs(at.getTime() - zoneOffsets.at) < 3_600_000) return zoneOffsets;
  const offsets = new Map(
    TIME_ZONES.map((zone) => {
      const offset = offsetPart(zone, at).replace(/^GMT$/, 'GMT+00:00');
      return [zone, { minutes: offsetMinutes(offset), label: offset.replace('GMT', 'UTC') }] as const;
    }),
  );
  zoneOffsets = { at: at.getTime(), offsets };
  return zoneOffsets;
}

/** The time-zone menu: "(UTC+09:00) 日本標準時 (東京)", west to east, then by name. */
export function timeZoneOptions(locale: Locale, at = new Date()): TimeZoneOption[] {
  const current = currentOffsets(at);
  const kept = zoneMenus.get(locale);
  if (kept && kept.at === current.at) return kept.menu;
  const collator = new Intl.Collator(locale);
  const menu = TIME_ZONES.map((zone) => {
    const offset = current.offsets.get(zone) ?? { minutes: 0, label: 'UTC+00:00' };
    return { zone, name: cachedZoneName(zone, locale, at), ...offset };
  })
    .sort((a, b) => a.minutes - b.minutes || collator.compare(a.name, b.name))
    .map(({ zone, name, label }) => ({ zone, label: `(${label}) ${name}` }));
  zoneMenus.set(locale, { at: current.at, menu });
  return menu;
}

function offsetMinutes(gmtOffset: string): number {
  const match = /([+-])(\d{2}):(\d{2})/.exec(gmtOffset);
  if (!match) return 0;
  const minutes = Number(match[2]) * 60 + Number(match[3]);
  return match[1] === '-' ? -minutes : minutes;
}

/**
 * An address shown to someone who may not own it yet (the login's code step): the first two
 * characters of the local part, then dots, and the domain (a company's own, so no secret).
 */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '…';
  const local = email.slice(0, at);
  return `${local.slice(0, Math.min(2, local.length - 1))}…@${email.slice(at + 1)}`;
}
