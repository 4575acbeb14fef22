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
  'EMAIL_TOO_LONG',
  'EMAIL_LOCAL_NOT_ASCII',
  'EMAIL_TAKEN',
  'EMAIL_FREE_MAIL_PARTNER',
  'NAME_REQUIRED',
  'NAME_TOO_LONG',
  'NAME_INVALID',
  'COUNTRY_REQUIRED',
  'PASSWORD_TOO_SHORT',
  'PASSWORD_TOO_LONG',
  'PASSWORD_NEEDS_LOWER',
  'PASSWORD_NEEDS_UPPER',
  'PASSWORD_NEEDS_DIGIT',
  'PASSWORD_NEEDS_SYMBOL',
  'PASSWORD_CONTAINS_EMAIL',
  'PASSWORD_COMMON',
  'PASSWORD_IN_HISTORY',
  'PASSWORD_CHANGED_TOO_RECENTLY',
  'PASSWORD_MISMATCH',
  'CODE_REQUIRED',
  'SMS_CODE_REQUIRED',
  'CODE_WRONG',
  'CODE_EXPIRED',
  'CODE_EXHAUSTED',
  'FLOW_EXPIRED',
  'CURRENT_PASSWORD_WRONG',
  'PHONE_REQUIRED',
  'PHONE_INVALID',
  'PHONE_NOT_MOBILE',
  'COMPANY_MANAGED',
  'FIELD_TOO_LONG',
  'LOCALE_INVALID',
  'TIMEZONE_INVALID',
  'PASSWORD_REQUIRED',
  'LOGIN_FAILED',
  'TOO_MANY_ATTEMPTS',
  'ACCOUNT_PENDING',
  'ACCOUNT_ON_HOLD',
  'ACCOUNT_DISABLED',
  'MFA_CODE_WRONG',
  'RECOVERY_CODE_WRONG',
  'MFA_METHOD_REQUIRED',
  'MFA_STEP_EXPIRED',
  'MFA_SETUP_EXPIRED',
  'DUO_UNAVAILABLE',
  'DUO_DENIED',
  'RESET_EXPIRED',
  'IDENTIFIER_REQUIRED',
  'ACCOUNT_ID_INVALID',
  'ACCOUNT_ID_OR_PASSWORD_WRONG',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Several problems with one form at once, each with its code (e.g. every broken password rule). */
export class FormError extends Error {
  override name = 'FormError';

  constructor(readonly codes: ErrorCode[], readonly status = 400, readonly params: Record<string, string | number> = {}) {
    super(codes.join(','));
  }
}

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
