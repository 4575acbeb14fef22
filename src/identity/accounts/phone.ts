import {
  getCountries,
  getCountryCallingCode,
  parsePhoneNumberWithError,
  type CountryCode,
} from 'libphonenumber-js/max';
import type { Locale } from '../../text/i18n.js';
import { countryOptions } from './countries.js';

export type PhoneProblem = 'PHONE_REQUIRED' | 'PHONE_INVALID' | 'PHONE_NOT_MOBILE';

/**
 * The countries texts may go to (sms.allowedCountries) that libphonenumber knows, with their
 * calling codes, named in the page's language (PR6).
 */
export function callingCodeOptions(
  locale: Locale,
  allowed: readonly string[],
): { code: string; name: string; callingCode: string }[] {
  const known = new Set<string>(getCountries());
  return countryOptions(locale)
    .filter((c) => known.has(c.code) && allowed.includes(c.code))
    .map((c) => ({ ...c, callingCode: getCountryCallingCode(c.code as CountryCode) }));
}

/**
 * Parses a number typed for a country (or in +international form) into E.164. With
 * `mobileOnly`, numbers libphonenumber knows to be fixed lines are refused: SMS cannot reach them.
 */
export function parsePhone(
  input: string,
  country: string,
  mobileOnly: boolean,
): { e164: string } | { problem: PhoneProblem } {
  const text = input.normalize('NFKC').trim();
  if (!text) return { problem: 'PHONE_REQUIRED' };
  if (text.length > 40) return { problem: 'PHONE_INVALID' };
  try {
    const known = new Set<string>(getCountries());
    const phone = parsePhoneNumberWithError(text, known.has(country) ? (country as CountryCode) : undefined);
    if (!phone.isValid()) return { problem: 'PHONE_INVALID' };
    const type = phone.getType();
    if (mobileOnly && type && type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE')
      return { problem: 'PHONE_NOT_MOBILE' };
    return { e164: phone.number };
  } catch {
    return { problem: 'PHONE_INVALID' };
  }
}
