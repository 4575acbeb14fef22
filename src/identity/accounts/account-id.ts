import { randomInt } from 'node:crypto';

// Crockford's base32: no I, L, O, U, so an ID read aloud or typed from paper survives.
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A human account ID such as "MB7K3Q9X2D": what a user can quote to support or to forgot-email. */
export function newAccountId(): string {
  let id = 'MB';
  for (let i = 0; i < 8; i += 1) id += ALPHABET[randomInt(ALPHABET.length)];
  return id;
}
