import { randomBytes } from 'node:crypto';
import { domainToASCII } from 'node:url';

/** The TXT record's prefix: `monban-verification=<token>`. */
export const VERIFICATION_PREFIX = 'monban-verification=';

// RFC 1035 2.3.1 labels (LDH, 63 octets), at least two of them, 253 octets in all.
const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** A domain as stored: lowercase ASCII (IDNs in punycode), no trailing dot; undefined when it is not one. */
export function normalizeDomain(input: string): string | undefined {
  const trimmed = input.normalize('NFKC').trim().toLowerCase().replace(/\.$/, '');
  const ascii = /[^\p{ASCII}]/u.test(trimmed) ? domainToASCII(trimmed) : trimmed;
  if (!ascii || ascii.length > 253) return undefined;
  const labels = ascii.split('.');
  if (labels.length < 2 || !labels.every((label) => LABEL.test(label))) return undefined;
  if (/^\d+$/.test(labels.at(-1) ?? '')) return undefined; // an IPv4 address is not a domain
  return ascii;
}

/** The domain of an (already normalised) address. */
export function domainOfEmail(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1);
}

/** 128 random bits, base32-ish lowercase hex: the token a company puts in its TXT record. */
export function newVerificationToken(): string {
  return randomBytes(16).toString('hex');
}

export const verificationRecord = (token: string): string => `${VERIFICATION_PREFIX}${token}`;
