import { z } from 'zod';

const seconds = z.number().int().positive();

/** A counter window for rate-limiter-flexible: `points` attempts per `durationSeconds`. */
const limit = z.object({
  points: z.number().int().positive(),
  durationSeconds: seconds,
}).strict();

export const configSchema = z.object({
  port: z.number().int().min(0).max(65535),
  /** The OpenID issuer; also the only origin used to build links in pages and mails. */
  issuer: z.url({ protocol: /^https?$/ }).refine((u) => !u.endsWith('/'), 'must not end with a slash'),
  /** Trust X-Forwarded-* headers (set when a TLS-terminating proxy is in front). */
  trustProxy: z.boolean(),
  databaseUrl: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  redisUrl: z.url({ protocol: /^rediss?$/ }).optional(),
  redisKeyPrefix: z.string().min(1),
  /** Where the embedded database and the generated master secret live. */
  dataDir: z.string().min(1),
  /**
   * Master secret (>= 32 random bytes, base64 or hex). Client secrets, private signing keys and
   * the password pepper are derived from it with HKDF. Required with DATABASE_URL; the embedded
   * default generates one under dataDir.
   */
  secret: z.string().min(43, 'must be at least 32 random bytes, base64 or hex encoded').optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  bcryptCost: z.number().int().min(4).max(15),
  bodyLimitBytes: z.number().int().min(1024).max(1024 * 1024),
  ttl: z.object({
    session: seconds,
    interaction: seconds,
    authorizationCode: seconds.max(600),
    accessToken: seconds,
    idToken: seconds,
    refreshToken: seconds,
    grant: seconds,
    clientCredentials: seconds,
  }).strict(),
  rateLimits: z.object({
    /** Wrong passwords for one address from one IP. */
    loginPerAccountAndIp: limit,
    /** Wrong passwords for one address from anywhere (slows distributed guessing). */
    loginPerAccount: limit,
    /** Every login attempt from one IP. */
    loginPerIp: limit,
  }).strict(),
  support: z.object({
    email: z.email(),
    url: z.url().optional(),
  }).strict(),
  /** PW1-PW6; the seed's rules are the defaults. The same object drives the page's checklist. */
  passwordPolicy: z.object({
    minLength: z.number().int().min(8).max(128),
    maxLength: z.number().int().min(8).max(1024),
    requireLower: z.boolean(),
    requireUpper: z.boolean(),
    requireDigit: z.boolean(),
    requireSymbol: z.boolean(),
    /** How many previous passwords (the current one included) may not be reused. */
    historySize: z.number().int().min(0).max(24),
    rejectCommon: z.boolean(),
    /** Pieces of the email's local part at least this long may not appear in the password. */
    emailPieceMinLength: z.number().int().min(2).max(10),
    /** Minimum time between password changes. */
    minAgeSeconds: z.number().int().min(0),
    /** Whether the minimum age also blocks a reset by verified code (issue: default no). */
    minAgeAppliesToReset: z.boolean(),
  }).strict().refine((p) => p.minLength <= p.maxLength, 'minLength must not exceed maxLength'),
  /** One-time codes sent by mail or SMS (X2). */
  codes: z.object({
    digits: z.number().int().min(6).max(10),
    ttlSeconds: seconds.max(3600),
    maxAttempts: z.number().int().min(1).max(10),
  }).strict(),
  registration: z.object({
    /** How long a started sign-up can be finished. */
    flowTtlSeconds: seconds,
    /** Partners must use a business address: these domains are refused for them. */
    freeMailDomainsFile: z.string().min(1),
    extraFreeMailDomains: z.array(z.string().min(3)),
    perIp: limit,
    resendPerAddress: limit,
  }).strict(),
  mail: z.object({
    /** smtp:// or smtps:// URL; unset on the embedded default: mails go to <dataDir>/mail as .eml files. */
    smtpUrl: z.url({ protocol: /^smtps?$/ }).optional(),
    from: z.string().min(3),
  }).strict(),
  /**
   * Text messages. With baseUrl set, a Twilio-compatible REST API (POST
   * {baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json, basic auth); without, the embedded
   * default writes each message to <dataDir>/sms.
   */
  sms: z.object({
    baseUrl: z.url({ protocol: /^https?$/ }).optional(),
    accountSid: z.string().min(1).optional(),
    authToken: z.string().min(1).optional(),
    from: z.string().min(1),
  }).strict().refine((s) => !s.baseUrl || (s.accountSid && s.authToken), 'baseUrl needs accountSid and authToken'),
  account: z.object({
    /** How long a password re-entry authorises security changes (PR3). */
    reauthSeconds: seconds.max(3600),
    /** How long a started mobile-number change can be finished. */
    phoneFlowTtlSeconds: seconds,
    /** SMS codes sent to one account. */
    smsPerAccount: limit,
  }).strict(),
  /** Forgot password (R1-R5). */
  recovery: z.object({
    /** How long a started reset can be finished. */
    flowTtlSeconds: seconds.max(86400),
    /**
     * Whether an address without an account gets a "someone tried to reset a password with this
     * address" mail. Off: such a request sends nothing (the page is the same either way).
     */
    mailUnknownAddresses: z.boolean(),
    /** Reset requests and codes sent, per IP and per address. */
    perIp: limit,
    perAddress: limit,
  }).strict(),
  /** Forgot email address (E1-E3): lookups per IP, and per account ID or address asked about. */
  forgotEmail: z.object({
    perIp: limit,
    perIdentifier: limit,
  }).strict(),
  /** Second factors (L3, PR5). */
  mfa: z.object({
    /** How long after the right password the second step may be finished. */
    stepSeconds: seconds.max(3600),
    /** Second-factor attempts (TOTP or recovery codes) per account, whatever the IP. */
    attemptsPerAccount: limit,
    /** Second-factor attempts from one IP, across accounts. */
    attemptsPerIp: limit,
    /** "Remember this browser" for this many days; 0 (the default) does not offer it. */
    rememberBrowserDays: z.number().int().min(0).max(90),
    /**
     * A Duo Web SDK v4 (Universal Prompt) application; unset: Duo is not offered. The username
     * Monban sends Duo is the account's email address.
     */
    duo: z.object({
      clientId: z.string().length(20, 'Duo client IDs are 20 characters'),
      clientSecret: z.string().length(40, 'Duo client secrets are 40 characters'),
      apiHost: z.string().min(1).regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'a host name such as api-xxxxxxxx.duosecurity.com'),
    }).strict().optional(),
  }).strict(),
  courier: z.object({
    pollIntervalMs: z.number().int().min(50).max(60_000),
    maxAttempts: z.number().int().min(1).max(50),
    /** First retry after this long, doubling up to maxBackoffSeconds. */
    backoffSeconds: seconds,
    maxBackoffSeconds: seconds,
  }).strict(),
  locales: z.object({
    supported: z.array(z.enum(['ja', 'en'])).min(1),
    default: z.enum(['ja', 'en']),
  }).strict(),
}).strict();

export type Config = z.infer<typeof configSchema>;
