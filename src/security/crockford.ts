import { randomInt } from 'node:crypto';

// Crockford's base32: no I, L, O, U, so what is read aloud or typed from paper survives.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** `length` random Crockford base32 characters (5 bits each), from the CSPRNG. */
export function randomCrockford(length: number): string {
  let text = '';
  for (let i = 0; i < length; i += 1) text += ALPHABET.charAt(randomInt(ALPHABET.length));
  return text;
}
