/**
 * Every error Monban answers with, by stable code, in one table: its HTTP status and whether
 * its own text may be shown (`expose`; otherwise the user sees INTERNAL's and the details go to
 * the log). The text for each code lives in views/locales/{ja,en}.json under "errors.<CODE>".
 * Code anywhere throws `new AppError(CODE)`; one handler in http/ renders it as a page or JSON,
 * so the status of a code is the same wherever it is thrown.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, expose: true },
  NOT_FOUND: { status: 404, expose: true },
  INTERNAL: { status: 500, expose: false },
  /** PostgreSQL or Redis cannot be reached: fail closed, "try again later" (see README "Outages"). */
  UNAVAILABLE: { status: 503, expose: true },
  BODY_TOO_LARGE: { status: 413, expose: true },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, expose: true },
  METHOD_NOT_ALLOWED: { status: 405, expose: true },
  CSRF_FAILED: { status: 403, expose: true },
  INTERACTION_EXPIRED: { status: 400, expose: true },
  EMAIL_REQUIRED: { status: 400, expose: true },
  EMAIL_INVALID: { status: 400, expose: true },
  EMAIL_TOO_LONG: { status: 400, expose: true },
  EMAIL_LOCAL_NOT_ASCII: { status: 400, expose: true },
  EMAIL_TAKEN: { status: 409, expose: true },
  EMAIL_FREE_MAIL_PARTNER: { status: 400, expose: true },
  NAME_REQUIRED: { status: 400, expose: true },
  NAME_TOO_LONG: { status: 400, expose: true },
  NAME_INVALID: { status: 400, expose: true },
  COUNTRY_REQUIRED: { status: 400, expose: true },
  PASSWORD_TOO_SHORT: { status: 400, expose: true },
  PASSWORD_TOO_LONG: { status: 400, expose: true },
  PASSWORD_NEEDS_LOWER: { status: 400, expose: true },
  PASSWORD_NEEDS_UPPER: { status: 400, expose: true },
  PASSWORD_NEEDS_DIGIT: { status: 400, expose: true },
  PASSWORD_NEEDS_SYMBOL: { status: 400, expose: true },
  PASSWORD_CONTAINS_EMAIL: { status: 400, expose: true },
  PASSWORD_COMMON: { status: 400, expose: true },
  PASSWORD_TOO_WEAK: { status: 400, expose: true },
  PASSWORD_IN_HISTORY: { status: 400, expose: true },
  PASSWORD_CHANGED_TOO_RECENTLY: { status: 400, expose: true },
  PASSWORD_MISMATCH: { status: 400, expose: true },
  CODE_REQUIRED: { status: 400, expose: true },
  SMS_CODE_REQUIRED: { status: 400, expose: true },
  CODE_WRONG: { status: 400, expose: true },
  CODE_EXPIRED: { status: 400, expose: true },
  CODE_EXHAUSTED: { status: 400, expose: true },
  /** Device flow (RFC 8628): the user code page was sent without a code. */
  DEVICE_CODE_REQUIRED: { status: 400, expose: true },
  /** No device waits for this user code (mistyped, expired, or already used). */
  DEVICE_CODE_WRONG: { status: 400, expose: true },
  /** The user code form is no longer valid (its token was replaced): enter the code again. */
  DEVICE_FORM_EXPIRED: { status: 400, expose: true },
  /** A self-service flow that ended (expired, finished, superseded); its pages restart with a message. */
  FLOW_EXPIRED: { status: 410, expose: true },
  CURRENT_PASSWORD_WRONG: { status: 401, expose: true },
  PHONE_REQUIRED: { status: 400, expose: true },
  PHONE_INVALID: { status: 400, expose: true },
  PHONE_NOT_MOBILE: { status: 400, expose: true },
  /** The number is in a country texts may not go to (sms.allowedCountries, SMS pumping). */
  PHONE_COUNTRY_NOT_ALLOWED: { status: 400, expose: true },
  /** A calling-code or the global SMS cap is used up: no text now, whoever asks. */
  SMS_UNAVAILABLE: { status: 503, expose: true },
  COMPANY_MANAGED: { status: 403, expose: true },
  FIELD_TOO_LONG: { status: 400, expose: true },
  LOCALE_INVALID: { status: 400, expose: true },
  TIMEZONE_INVALID: { status: 400, expose: true },
  PASSWORD_REQUIRED: { status: 400, expose: true },
  REAUTH_REQUIRED: { status: 400, expose: true },
  LOGIN_FAILED: { status: 401, expose: true },
  TOO_MANY_ATTEMPTS: { status: 429, expose: true },
  ACCOUNT_LOCKED: { status: 429, expose: true },
  UNLOCK_LINK_INVALID: { status: 400, expose: true },
  ACCOUNT_PENDING: { status: 403, expose: true },
  ACCOUNT_ON_HOLD: { status: 403, expose: true },
  ACCOUNT_DISABLED: { status: 403, expose: true },
  MFA_CODE_WRONG: { status: 401, expose: true },
  RECOVERY_CODE_WRONG: { status: 401, expose: true },
  MFA_METHOD_REQUIRED: { status: 400, expose: true },
  MFA_STEP_EXPIRED: { status: 400, expose: true },
  MFA_SETUP_EXPIRED: { status: 400, expose: true },
  /** Duo did not answer its health check: the second step fails closed, and says so. */
  DUO_UNAVAILABLE: { status: 503, expose: true },
  DUO_DENIED: { status: 401, expose: true },
  /** A passkey's answer did not verify (signature, origin, rpID, challenge, user verification). */
  PASSKEY_NOT_ACCEPTED: { status: 401, expose: true },
  /** No account has this passkey (never registered, or removed). */
  PASSKEY_UNKNOWN: { status: 401, expose: true },
  /** The signature counter went backwards: possibly a cloned authenticator (WebAuthn L3 6.1.1). */
  PASSKEY_COUNTER: { status: 401, expose: true },
  PASSKEY_ALREADY_REGISTERED: { status: 409, expose: true },
  PASSKEY_NAME_REQUIRED: { status: 400, expose: true },
  PHISHING_RESISTANT_REQUIRED: { status: 403, expose: true },
  RESET_EXPIRED: { status: 400, expose: true },
  PHONE_VERIFICATION_EXPIRED: { status: 400, expose: true },
  IDENTIFIER_REQUIRED: { status: 400, expose: true },
  ACCOUNT_ID_INVALID: { status: 400, expose: true },
  ACCOUNT_ID_OR_PASSWORD_WRONG: { status: 401, expose: true },
  /** Admin API: no bearer token, or one that is not valid (RFC 6750 3.1 invalid_token). */
  UNAUTHORIZED: { status: 401, expose: true },
  /** Admin API: the token lacks the scope the operation needs (RFC 6750 3.1). */
  INSUFFICIENT_SCOPE: { status: 403, expose: true },
  /** Admin API: a field is missing, of the wrong type, out of range, or unknown. */
  INVALID_INPUT: { status: 400, expose: true },
  /** Admin API: client metadata that the CLI or oidc-provider's own check refuses. */
  CLIENT_METADATA_INVALID: { status: 400, expose: true },
  /** Admin API: the account's status does not allow the change (enable a held account, ...). */
  STATUS_CONFLICT: { status: 409, expose: true },
  /** Admin API: an Idempotency-Key used before with another request. */
  IDEMPOTENCY_KEY_REUSED: { status: 422, expose: true },
  /** Admin API: the first request with this Idempotency-Key is still running. */
  IDEMPOTENCY_KEY_IN_USE: { status: 409, expose: true },
  /** Companies: the Japanese or Latin name is empty. */
  COMPANY_NAME_REQUIRED: { status: 400, expose: true },
  COMPANY_NAME_LATIN_INVALID: { status: 400, expose: true },
  /** Not 13 digits, or the check digit does not match (法人番号). */
  CORPORATE_NUMBER_INVALID: { status: 400, expose: true },
  CORPORATE_NUMBER_TAKEN: { status: 409, expose: true },
  DOMAIN_INVALID: { status: 400, expose: true },
  /** Another company has verified this domain. */
  DOMAIN_TAKEN: { status: 409, expose: true },
  RESOURCE_SERVER_EXISTS: { status: 409, expose: true },
  /** The DNS answer for the domain has no TXT record with its token (or none at all). */
  DOMAIN_NOT_VERIFIED: { status: 409, expose: true },
  /** The DNS resolver did not answer: try again later. */
  DNS_UNAVAILABLE: { status: 503, expose: true },
  /** Email change (M3): the new address is the member's present one. */
  EMAIL_CHANGE_SAME: { status: 400, expose: true },
  /** Email change: the new address is not in a domain the company has verified. */
  EMAIL_CHANGE_DOMAIN_NOT_VERIFIED: { status: 400, expose: true },
  /** Email change: the member's present address is not in a domain the company has verified. */
  EMAIL_CHANGE_MEMBER_OUTSIDE: { status: 409, expose: true },
  /** Email change: resend or a code for an account that has no change pending (any more). */
  EMAIL_CHANGE_NOT_PENDING: { status: 409, expose: true },
  /** A company page or action for someone who is not an admin of that company. */
  COMPANY_FORBIDDEN: { status: 403, expose: true },
  /** An account id or address that names no account. */
  ACCOUNT_NOT_FOUND: { status: 404, expose: true },
  /** Invitations (C4): a link whose token names no invitation. */
  /** M2: only partner accounts ask for a new address through a support case. */
  SUPPORT_CASE_NOT_PARTNER: { status: 403, expose: true },
  /** The account has an open case already. */
  SUPPORT_CASE_OPEN: { status: 409, expose: true },
  SUPPORT_CASE_SAME_EMAIL: { status: 400, expose: true },
  SUPPORT_CASE_REASON_REQUIRED: { status: 400, expose: true },
  SUPPORT_CASE_MESSAGE_REQUIRED: { status: 400, expose: true },
  /** Approving or rejecting a case that was resolved already. */
  SUPPORT_CASE_NOT_OPEN: { status: 409, expose: true },
  /** A bulk rename from a domain to itself. */
  RENAME_SAME_DOMAIN: { status: 400, expose: true },
  /** Both domains of a bulk rename must be the company's verified domains. */
  RENAME_DOMAIN_NOT_VERIFIED: { status: 409, expose: true },
  /** The company has a bulk rename that has not finished. */
  RENAME_RUNNING: { status: 409, expose: true },
  INVITATION_NOT_FOUND: { status: 404, expose: true },
  INVITATION_EXPIRED: { status: 410, expose: true },
  INVITATION_REVOKED: { status: 410, expose: true },
  INVITATION_USED: { status: 410, expose: true },
  /** Resend or revoke of an invitation that was accepted or revoked already. */
  INVITATION_NOT_OPEN: { status: 409, expose: true },
  /** The link is accepted while logged in to an account of another address. */
  INVITATION_OTHER_ACCOUNT: { status: 403, expose: true },
  /** The invited address has an account (made since the link was opened): log in and accept. */
  INVITATION_HAS_ACCOUNT: { status: 409, expose: true },
  INVITATIONS_EMPTY: { status: 400, expose: true },
  INVITATIONS_TOO_MANY: { status: 400, expose: true },
  INVITATION_EMAIL_INVALID: { status: 400, expose: true },
  /** The change would leave the company without an admin (the last one cannot leave or step down). */
  COMPANY_LAST_ADMIN: { status: 409, expose: true },
} as const satisfies Record<string, { status: number; expose: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** Values interpolated into a message, e.g. {minutes: 15}. */
export type ErrorParams = Record<string, string | number>;

export class AppError extends Error {
  override name = 'AppError';
  readonly status: number;
  /** Whether the user may see this code's text; server faults keep their details in the log. */
  readonly expose: boolean;

  constructor(
    readonly code: ErrorCode,
    readonly params: ErrorParams = {},
    options?: ErrorOptions,
  ) {
    super(code, options);
    this.status = ERRORS[code].status;
    this.expose = ERRORS[code].expose;
  }
}

/**
 * Several problems with one form at once, each with its code (e.g. every broken password rule).
 * Its status is the most severe of its codes' statuses.
 */
export class FormError extends Error {
  override name = 'FormError';
  readonly status: number;

  constructor(
    readonly codes: ErrorCode[],
    readonly params: ErrorParams = {},
  ) {
    super(codes.join(','));
    this.status = Math.max(400, ...codes.map((code) => ERRORS[code].status));
  }
}

/** A refusal to show on a form: an AppError or a FormError. */
export type Refusal = AppError | FormError;

export function isRefusal(err: unknown): err is Refusal {
  return err instanceof AppError || err instanceof FormError;
}

const OUTAGE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, connection failures.
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
]);
const OUTAGE_MESSAGE =
  /Connection terminated|Connection is closed|max retries per request|timeout exceeded when trying to connect|Stream isn't writeable|ClusterAllFailedError/i;

/**
 * Whether an error means a store (PostgreSQL, Redis) could not be reached: such a request fails
 * closed with UNAVAILABLE (503, "try again later") instead of a generic error. Looks through
 * `cause` chains, since libraries wrap these.
 */
export function isOutage(err: unknown, depth = 0): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) return false;
  const { code, name, message, cause } = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
  if (typeof code === 'string' && OUTAGE_CODES.has(code)) return true;
  if (name === 'MaxRetriesPerRequestError') return true;
  if (typeof message === 'string' && OUTAGE_MESSAGE.test(message)) return true;
  return isOutage(cause, depth + 1);
}
