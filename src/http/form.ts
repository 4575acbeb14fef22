import type { Context } from 'koa';
import { z } from 'zod';
import { AppError, ERRORS, FormError, type ErrorCode } from '../errors.js';

/**
 * Forms: each route declares its form as a zod schema built from the fields below (next to the
 * route), and reads it with one `parseForm(ctx, schema)`. A urlencoded body holds strings, or
 * arrays when a name repeats; a field that is missing or not one string reads as ''.
 *
 * The fields only shape what was typed (trimming, Unicode NFKC, a length cap): whether a value
 * is acceptable is for the service, which answers with the form's localized messages. A schema
 * that refuses does so with an error code as the issue's message, and parseForm throws it as
 * the same AppError (one code) or FormError (several) a service would.
 */

/** One string as typed, '' when missing or repeated. */
const oneString = (value: unknown): string => (typeof value === 'string' ? value : '');

/**
 * Any value or none. zod 4 refuses a missing key unless its schema is optional, even
 * `z.unknown()`, and runs no transform on it: every field starts from this.
 */
const field = () => z.unknown().optional();

export interface TextOptions {
  /** Strip surrounding white space. */
  trim?: boolean;
  /** Unicode NFKC: full-width letters and digits (typed with a Japanese IME) become ASCII. */
  nfkc?: boolean;
}

/**
 * A text field, cut to `max` characters (a longer value cannot be right: the service then
 * refuses what is left, with its own message, rather than the form failing on its length).
 */
export function text(max: number, options: TextOptions = {}) {
  return field().transform((value) => {
    let typed = oneString(value);
    if (options.nfkc) typed = typed.normalize('NFKC');
    if (options.trim) typed = typed.trim();
    return typed.slice(0, max);
  });
}

/**
 * A password field: not trimmed and not cut (the password policy checks its length and answers
 * PASSWORD_TOO_LONG); the body limit bounds it.
 */
export const password = () => field().transform(oneString);

/** A checkbox: sent as `on` (its value) when ticked and not at all otherwise (then false). */
export function checkbox(on = 'yes') {
  return field().transform((value) => value === on);
}

/** One of `values`, or `fallback` for anything else (radio buttons, hidden choices). */
export function choice<const T extends string>(values: readonly T[], fallback: T) {
  return field().transform((value): T => ((values as readonly unknown[]).includes(value) ? (value as T) : fallback));
}

const isErrorCode = (message: string): message is ErrorCode => Object.hasOwn(ERRORS, message);

/** The form this request posted, read with `schema`; a refusal is thrown as AppError or FormError. */
export function parseForm<S extends z.ZodType>(ctx: Context, schema: S): z.output<S> {
  const body = (ctx.request as { body?: unknown }).body;
  const result = schema.safeParse(body !== null && typeof body === 'object' ? body : {});
  if (result.success) return result.data;
  const codes = [...new Set(result.error.issues.map((issue) => issue.message))].filter(isErrorCode);
  const [first, ...more] = codes;
  if (first === undefined) throw new AppError('BAD_REQUEST');
  throw more.length === 0 ? new AppError(first) : new FormError(codes);
}
