import { timingSafeEqual } from 'node:crypto';

/**
 * Whether `given` is the string `expected`, compared in constant time for equal lengths (only a
 * length differs early, as with any fixed-length secret); anything but two strings is no match.
 */
export function sameSecret(expected: unknown, given: unknown): boolean {
  if (typeof expected !== 'string' || typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
