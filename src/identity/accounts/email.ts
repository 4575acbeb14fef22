import { domainToASCII } from 'node:url';
import { z } from 'zod';

const emailSchema = z.email();
const MAX_LENGTH = 254; // RFC 5321 4.5.3.1.3

/**
 * Addresses are stored and compared lower-cased and trimmed, with an internationalised domain
 * in its ASCII (punycode) form, so 山田@例え.jp and its xn-- spelling are one address.
 */
export function normalizeEmail(input: string): string {
  const trimmed = input.normalize('NFKC').trim().toLowerCase();
  const at = trimmed.lastIndexOf('@');
  if (at < 1) return trimmed;
  const domain = trimmed.slice(at + 1);
  const ascii = /[^\p{ASCII}]/u.test(domain) ? domainToASCII(domain) : domain;
  return `${trimmed.slice(0, at)}@${ascii || domain}`;
}

export type EmailProblem = 'EMAIL_REQUIRED' | 'EMAIL_TOO_LONG' | 'EMAIL_LOCAL_NOT_ASCII' | 'EMAIL_INVALID';

/** Why an address cannot be used, or undefined. Non-ASCII local parts (SMTPUTF8) are refused. */
export function emailProblem(input: string): EmailProblem | undefined {
  const email = normalizeEmail(input);
  if (!email) return 'EMAIL_REQUIRED';
  if (email.length > MAX_LENGTH) return 'EMAIL_TOO_LONG';
  const local = email.slice(0, Math.max(email.lastIndexOf('@'), 0));
  if (/[^\p{ASCII}]/u.test(local)) return 'EMAIL_LOCAL_NOT_ASCII';
  return emailSchema.safeParse(email).success ? undefined : 'EMAIL_INVALID';
}

export function isValidEmail(input: string): boolean {
  return emailProblem(input) === undefined;
}
