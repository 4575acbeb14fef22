import { z } from 'zod';

const emailSchema = z.email().max(254);

/** Addresses are compared and stored lower-cased and trimmed. */
export function normalizeEmail(input: string): string {
  return input.trim().toLowerCase();
}

export function isValidEmail(input: string): boolean {
  return emailSchema.safeParse(normalizeEmail(input)).success;
}
