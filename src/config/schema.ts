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
  locales: z.object({
    supported: z.array(z.enum(['ja', 'en'])).min(1),
    default: z.enum(['ja', 'en']),
  }).strict(),
}).strict();

export type Config = z.infer<typeof configSchema>;
