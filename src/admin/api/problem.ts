import { z } from 'zod';
import { AppError, ERRORS, FormError, isOutage, type ErrorCode } from '../../errors.js';
import { translator } from '../../text/i18n.js';
import { AdminInputError } from '../clients.js';

/** RFC 9457 problem details, with Monban's stable error code (src/errors.ts) in `code`. */
export const ProblemSchema = z.strictObject({
  type: z.string().describe('urn:monban:problem:<code>'),
  title: z.string(),
  status: z.number().int(),
  code: z.string().describe('the stable error code (src/errors.ts)'),
  detail: z.string().optional(),
  errors: z
    .array(z.strictObject({ field: z.string(), code: z.string().optional(), message: z.string() }))
    .optional()
    .describe('each refused field, for INVALID_INPUT and password policy refusals'),
});

export type Problem = z.infer<typeof ProblemSchema>;

/** A refusal the API explains in `detail` (and `errors`), beyond what its code's text says. */
export class ApiProblem extends Error {
  override name = 'ApiProblem';
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly errors?: Problem['errors'],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? code);
  }
}

export function problem(code: ErrorCode, detail?: string, errors?: Problem['errors']): Problem {
  return {
    type: `urn:monban:problem:${code}`,
    title: translator('en').t(`errors.${code}`),
    status: ERRORS[code].status,
    code,
    ...(detail ? { detail } : {}),
    ...(errors?.length ? { errors } : {}),
  };
}

/** What escapes an operation, as a problem and its headers; `logged` says whether it is a fault to log. */
export function toProblem(err: unknown): { body: Problem; headers: Record<string, string>; fault: boolean } {
  if (err instanceof ApiProblem)
    return { body: problem(err.code, err.detail, err.errors), headers: err.headers, fault: false };
  if (err instanceof AdminInputError)
    return { body: problem('CLIENT_METADATA_INVALID', err.message), headers: {}, fault: false };
  if (err instanceof z.ZodError) {
    const errors = err.issues.map((issue) => ({ field: issue.path.join('.') || '(body)', message: issue.message }));
    return {
      body: problem('INVALID_INPUT', errors.map((e) => `${e.field}: ${e.message}`).join('; '), errors),
      headers: {},
      fault: false,
    };
  }
  if (err instanceof FormError) {
    const t = translator('en').t;
    const errors = err.codes.map((code) => ({ field: '', code, message: t(`errors.${code}`, err.params) }));
    const code = err.codes.length === 1 ? (err.codes[0] as ErrorCode) : 'INVALID_INPUT';
    return { body: problem(code, errors.map((e) => e.message).join(' '), errors), headers: {}, fault: false };
  }
  if (err instanceof AppError && err.expose) {
    const detail = Object.keys(err.params).length ? translator('en').t(`errors.${err.code}`, err.params) : undefined;
    return { body: problem(err.code, detail), headers: {}, fault: false };
  }
  if (isOutage(err)) return { body: problem('UNAVAILABLE'), headers: { 'retry-after': '5' }, fault: true };
  const { status, type } = err as { status?: unknown; type?: unknown };
  if (status === 413 || type === 'entity.too.large')
    return { body: problem('BODY_TOO_LARGE'), headers: {}, fault: false };
  if (status === 415) return { body: problem('UNSUPPORTED_MEDIA_TYPE'), headers: {}, fault: false };
  if (typeof status === 'number' && status >= 400 && status < 500)
    return { body: problem('INVALID_INPUT', (err as Error).message), headers: {}, fault: false };
  return { body: problem('INTERNAL'), headers: {}, fault: true };
}
