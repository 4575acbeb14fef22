/**
 * Every error a user can see, by stable code. The text for each lives in
 * views/locales/{ja,en}.json under "errors.<CODE>"; nothing else is ever shown.
 */
export const ERROR_CODES = [
  'BAD_REQUEST',
  'NOT_FOUND',
  'INTERNAL',
  'BODY_TOO_LARGE',
  'CSRF_FAILED',
  'INTERACTION_EXPIRED',
  'EMAIL_REQUIRED',
  'EMAIL_INVALID',
  'EMAIL_TAKEN',
  'NAME_REQUIRED',
  'PASSWORD_REQUIRED',
  'LOGIN_FAILED',
  'TOO_MANY_ATTEMPTS',
  'ACCOUNT_PENDING',
  'ACCOUNT_ON_HOLD',
  'ACCOUNT_DISABLED',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class AppError extends Error {
  override name = 'AppError';

  constructor(
    readonly code: ErrorCode,
    readonly status = 400,
    /** Values interpolated into the message, e.g. {minutes: 15}. */
    readonly params: Record<string, string | number> = {},
  ) {
    super(code);
  }

  /** Server faults (5xx) keep their details in the log; the user sees the generic text. */
  get expose(): boolean {
    return this.status < 500;
  }
}
