import proxyaddr from 'proxy-addr';
import { z } from 'zod';

const seconds = z.number().int().positive();

/** A counter window for rate-limiter-flexible: `points` attempts per `durationSeconds`. */
const limit = z
  .object({
    points: z.number().int().positive(),
    durationSeconds: seconds,
  })
  .strict();

/** A text per language (each optional; a missing one falls back to the other). */
const perLanguage = z
  .object({ ja: z.string().min(1).max(500).optional(), en: z.string().min(1).max(500).optional() })
  .strict();

export const configSchema = z
  .object({
    port: z.number().int().min(0).max(65535),
    /** The OpenID issuer; also the only origin used to build links in pages and mails. */
    issuer: z.url({ protocol: /^https?$/ }).refine((u) => !u.endsWith('/'), 'must not end with a slash'),
    /**
     * Which proxies may name the client in X-Forwarded-For: false (none), true (one hop: the
     * proxy in front), a number of hops, or the proxies' addresses / CIDR ranges. The client is
     * the rightmost address no trusted proxy owns. Host and protocol always come from `issuer`.
     */
    trustProxy: z.union([
      z.boolean(),
      z.number().int().min(0).max(20),
      z
        .array(z.string().min(1))
        .min(1)
        .refine((ranges) => {
          try {
            proxyaddr.compile(ranges);
            return true;
          } catch {
            return false;
          }
        }, 'must be IP addresses or CIDR ranges (e.g. 10.0.0.0/8), or loopback, linklocal, uniquelocal'),
    ]),
    databaseUrl: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
    /** PostgreSQL connections each process (each worker) may open. */
    databasePoolSize: z.number().int().min(1).max(1000),
    /**
     * Name repeated statements so PostgreSQL parses and plans them once per connection. Off for a
     * pooler that does not keep prepared statements (PgBouncer in transaction mode before 1.21).
     */
    databasePreparedStatements: z.boolean(),
    /**
     * Processes serving requests (node:cluster workers sharing the port). Unset: the number of
     * cores with NODE_ENV=production and DATABASE_URL, otherwise 1 (the embedded database serves
     * one process).
     */
    webConcurrency: z.number().int().min(1).max(256),
    /** redis:// or rediss:// for one server; redis+cluster:// or rediss+cluster:// for a cluster's seed node. */
    redisUrl: z.url({ protocol: /^rediss?(\+cluster)?$/ }).optional(),
    /** A Redis Cluster's seed nodes (host:port or URLs), instead of redisUrl. */
    redisClusterNodes: z.array(z.string().min(3)).optional(),
    /** No braces: a `{tag}` in the prefix would put every key in one Redis Cluster slot. */
    redisKeyPrefix: z
      .string()
      .min(1)
      .regex(/^[^{}]*$/, 'must not contain { or } (a hash tag would put every key in one cluster slot)'),
    /**
     * How long a process keeps a client it read (secret decrypted) when no change reaches it;
     * changes made with the admin CLI or API reach every process at once. 0 reads every time.
     */
    clientCacheSeconds: z.number().int().min(0).max(3600),
    /**
     * The bootstrap admin client (MONBAN_ADMIN_CLIENT_ID / MONBAN_ADMIN_CLIENT_SECRET): registered,
     * or its secret updated, at start. Without them the first start creates one and writes its
     * credentials to <dataDir>/admin-client.json (mode 0600).
     */
    adminClientId: z
      .string()
      .min(8)
      .max(200)
      .regex(/^[\w.-]+$/)
      .optional(),
    adminClientSecret: z.string().min(32, 'must be at least 32 characters').max(500).optional(),
    /** Where the admin CLI finds a running server's admin API (MONBAN_ADMIN_URL), e.g. https://id.example.com. */
    adminUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Where the embedded database and the generated master secret live. */
    dataDir: z.string().min(1),
    /**
     * Master secret (>= 32 random bytes, base64 or hex), or during a rotation a comma-separated
     * list, current first (docs/operations.md). Client secrets, private signing keys and
     * the password pepper are derived from it with HKDF. Required with DATABASE_URL; the embedded
     * default generates one under dataDir.
     */
    secret: z
      .string()
      .refine(
        (list) => list.split(',').every((secret) => secret.trim().length >= 43),
        'must be at least 32 random bytes, base64 or hex encoded (each, in a list)',
      )
      .optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    /**
     * Apply pending migrations at start (safe in parallel: Kysely's migrator locks). Off: a
     * separate job runs `migrate`, and a process whose schema is behind refuses to start.
     */
    migrateOnStart: z.boolean(),
    /**
     * Prometheus metrics at /metrics: on the main port by default; `port` serves them on a port
     * of their own instead (then not on the main one); `bearerToken` requires
     * `Authorization: Bearer <token>` to read them.
     */
    metrics: z
      .object({
        port: z.number().int().min(1).max(65535).optional(),
        bearerToken: z.string().min(16, 'use at least 16 random characters').optional(),
      })
      .strict(),
    /**
     * OpenTelemetry tracing (off by default: then no OpenTelemetry module is even loaded). Spans
     * of HTTP requests (named by route), PostgreSQL statements and Redis commands go to an OTLP/HTTP
     * collector. Unset endpoint and serviceName fall back to the standard OTEL_EXPORTER_OTLP_ENDPOINT
     * and OTEL_SERVICE_NAME, then to http://localhost:4318 and "monban".
     */
    tracing: z
      .object({
        enabled: z.boolean(),
        /** The collector's OTLP/HTTP base URL (spans are sent to <endpoint>/v1/traces). */
        endpoint: z.url({ protocol: /^https?$/ }).optional(),
        serviceName: z.string().min(1).max(200).optional(),
        /** Share of new traces recorded (0 to 1); a request that arrives in a sampled trace is always recorded. */
        sampleRatio: z.number().min(0).max(1),
      })
      .strict(),
    /** SIGTERM: readiness answers 503 at once; new requests are still served for delaySeconds
     * (while load balancers notice), then the listener closes and running requests get up to
     * graceSeconds to finish before their connections are closed. */
    shutdown: z
      .object({
        delaySeconds: z.number().min(0).max(120),
        graceSeconds: z.number().min(0).max(600),
      })
      .strict(),
    bcryptCost: z.number().int().min(4).max(15),
    bodyLimitBytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024),
    ttl: z
      .object({
        /** A signed-in session's absolute lifetime, counted from its last login; use does not extend it. */
        session: seconds,
        /** A signed-in session ends after this long without use (console pages, authorization requests). */
        sessionIdle: seconds,
        interaction: seconds,
        authorizationCode: seconds.max(600),
        /** How long a device's user code can be entered and its device code polled (RFC 8628 3.2 expires_in). */
        deviceCode: seconds.max(1800),
        accessToken: seconds,
        idToken: seconds,
        refreshToken: seconds,
        grant: seconds,
        clientCredentials: seconds,
      })
      .strict()
      .refine((t) => t.sessionIdle <= t.session, 'sessionIdle must not exceed session'),
    rateLimits: z
      .object({
        /**
         * Password attempts for one account (or unknown address) from one IP, counted before the
         * check; a right password clears it. Shared by every page that checks a password.
         */
        loginPerAccountAndIp: limit,
        /** Password attempts for one account from anywhere (slows distributed guessing). */
        loginPerAccount: limit,
        /** Every password attempt from one IP, whatever the account. */
        loginPerIp: limit,
        /**
         * A browser that logged in to the account before (a device cookie, OWASP "Slow Down Online
         * Guessing Attacks with Device Cookies") is exempt from the two per-account counters
         * above and has this small one of its own instead, so strangers cannot lock the owner out.
         */
        loginPerDevice: limit,
        /** How long a browser's device cookie lasts after its last login. */
        trustedDeviceDays: z.number().int().min(1).max(730),
        /**
         * NIST 800-63B 5.2.2: after this many wrong passwords in a row for one account (from any
         * browser; a right one starts the count again), the account is locked until the owner
         * opens the unlock link mailed to them, resets the password, or an admin unlocks it.
         */
        accountLock: z
          .object({
            failures: z.number().int().min(3).max(100),
            /** How long a run of failures is remembered. */
            windowSeconds: seconds,
          })
          .strict(),
      })
      .strict(),
    support: z
      .object({
        email: z.email(),
        url: z.url().optional(),
      })
      .strict(),
    /**
     * The operator's brand on every page and mail, without forking: the product name (also in
     * the texts, for {{product}}), a logo (an http(s) URL, or an image file Monban serves at
     * /branding/logo), the primary colour, links beside Help, and a footer line per language.
     */
    branding: z
      .object({
        productName: z.string().trim().min(1).max(80),
        logo: z
          .string()
          .min(1)
          .refine(
            (logo) => !/^[a-z][a-z0-9+.-]*:/i.test(logo) || /^https?:\/\//i.test(logo),
            'must be an http(s) URL or a file path',
          )
          .optional(),
        primaryColor: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour as #rrggbb'),
        supportLinks: z
          .array(z.object({ label: perLanguage, url: z.url({ protocol: /^(https?|mailto)$/ }) }).strict())
          .max(10),
        footerText: perLanguage,
      })
      .strict(),
    /**
     * A folder whose views (layouts/, partials/, pages, emails/, sms/) replace the built-in ones
     * of the same name, and whose locales/{ja,en}.json override single strings.
     */
    viewsOverrideDir: z.string().min(1).optional(),
    /** PW1-PW6; the seed's rules are the defaults. The same object drives the page's checklist. */
    passwordPolicy: z
      .object({
        minLength: z.number().int().min(8).max(128),
        maxLength: z.number().int().min(8).max(1024),
        requireLower: z.boolean(),
        requireUpper: z.boolean(),
        requireDigit: z.boolean(),
        requireSymbol: z.boolean(),
        /** How many previous passwords (the current one included) may not be reused. */
        historySize: z.number().int().min(0).max(24),
        rejectCommon: z.boolean(),
        /**
         * The least zxcvbn score (0-4) a new password needs: 3 refuses common passwords and words
         * with capitals, leetspeak, years or symbols added (Password123!, P@ssw0rd1234); 0 turns
         * the rule off.
         */
        minStrength: z.number().int().min(0).max(4),
        /** Pieces of the email's local part at least this long may not appear in the password. */
        emailPieceMinLength: z.number().int().min(2).max(10),
        /** Minimum time between password changes. */
        minAgeSeconds: z.number().int().min(0),
        /** Whether the minimum age also blocks a reset by verified code (issue: default no). */
        minAgeAppliesToReset: z.boolean(),
      })
      .strict()
      .refine((p) => p.minLength <= p.maxLength, 'minLength must not exceed maxLength'),
    /** One-time codes sent by mail or SMS (X2). */
    codes: z
      .object({
        digits: z.number().int().min(6).max(10),
        ttlSeconds: seconds.max(3600),
        maxAttempts: z.number().int().min(1).max(10),
        /** Wrong codes (activation, reset, phone) for one account, over every flow and new code. */
        attemptsPerAccount: limit,
      })
      .strict(),
    /** Companies (issue 15): how their domains are proven by DNS. */
    companies: z
      .object({
        /**
         * The DNS servers that answer the TXT lookups (host or host:port, IPv4 or IPv6); empty: the
         * system's resolvers. Tests point this at a DNS server on loopback.
         */
        dnsServers: z.array(z.string().min(1)),
        /** How long one DNS query may take before it counts as an outage. */
        dnsTimeoutMs: z.number().int().min(100).max(60_000),
        /** A verified domain's record is looked up again after this long; gone, the domain is unverified. */
        recheckHours: z.number().int().min(1),
        /** How long an invitation's link works (C4). */
        invitationDays: z.number().int().min(1).max(90),
        /** Invitation links looked up per IP, counted before the token is checked. */
        invitationLookupsPerIp: limit,
        /** How long the code of an address change by a company admin works (M3), in hours. */
        emailChangeHours: z.number().int().min(1).max(168),
        /** Codes of address changes mailed per account (the start and every resend). */
        emailChangeSends: limit,
        /** How often each process looks for bulk renames started elsewhere or left by a process that stopped. */
        renamePollMs: z.number().int().min(100).max(600_000),
      })
      .strict(),
    registration: z
      .object({
        /** How long a started sign-up can be finished. */
        flowTtlSeconds: seconds,
        /** Partners must use a business address: these domains are refused for them. */
        freeMailDomainsFile: z.string().min(1),
        extraFreeMailDomains: z.array(z.string().min(3)),
        perIp: limit,
        resendPerAddress: limit,
      })
      .strict(),
    mail: z
      .object({
        /** smtp:// or smtps:// URL; unset on the embedded default: mails go to <dataDir>/mail as .eml files. */
        smtpUrl: z.url({ protocol: /^smtps?$/ }).optional(),
        from: z.string().min(3),
        /**
         * Whether activation and reset codes may appear in the subject too. Subjects show in lock
         * screens and notification previews, and are logged by mail systems: default no.
         */
        codeInSubject: z.boolean(),
      })
      .strict(),
    /**
     * Text messages. With baseUrl set, a Twilio-compatible REST API (POST
     * {baseUrl}/2010-04-01/Accounts/{accountSid}/Messages.json, basic auth); without, the embedded
     * default writes each message to <dataDir>/sms.
     */
    sms: z
      .object({
        baseUrl: z.url({ protocol: /^https?$/ }).optional(),
        accountSid: z.string().min(1).optional(),
        authToken: z.string().min(1).optional(),
        from: z.string().min(1),
        /** ISO 3166 codes of the countries texts may be sent to (SMS pumping); others are refused. */
        allowedCountries: z.array(z.string().regex(/^[A-Z]{2}$/, 'ISO 3166 country codes such as JP')).min(1),
        /** Texts per requesting IP, per destination country calling code, and in all, counted before sending. */
        caps: z
          .object({
            perIp: limit,
            perCallingCode: limit,
            global: limit,
          })
          .strict(),
      })
      .strict()
      .refine((s) => !s.baseUrl || (s.accountSid && s.authToken), 'baseUrl needs accountSid and authToken'),
    account: z
      .object({
        /** How long a password re-entry authorises security changes (PR3). */
        reauthSeconds: seconds.max(3600),
        /** How long a started mobile-number change can be finished. */
        phoneFlowTtlSeconds: seconds,
        /** SMS codes sent to one account. */
        smsPerAccount: limit,
      })
      .strict(),
    /** Forgot password (R1-R5). */
    recovery: z
      .object({
        /** How long a started reset can be finished. */
        flowTtlSeconds: seconds.max(86400),
        /**
         * Whether an address without an account gets a "someone tried to reset a password with this
         * address" mail. Off: such a request sends nothing (the page is the same either way).
         */
        mailUnknownAddresses: z.boolean(),
        /** Reset requests per IP. */
        perIp: limit,
        /**
         * Codes sent for one address to browsers that never logged in to its account (together),
         * and again to each browser that did (its device cookie): strangers cannot use up the owner's.
         */
        perAddress: limit,
        /** Codes sent for one address in all, whoever asks (mail bombing); above perAddress. */
        perAddressCeiling: limit,
      })
      .strict()
      // Below perAddress, strangers' requests would use up the owner's own browser's allowance.
      .refine((r) => r.perAddressCeiling.points >= r.perAddress.points, {
        error: 'must allow at least as many codes as recovery.perAddress',
        path: ['perAddressCeiling'],
      }),
    /**
     * The admin API's requests, counted before the token is checked: per IP, then per admin
     * client (its token's client_id).
     */
    adminApi: z.object({ perIp: limit, perClient: limit }).strict(),
    /**
     * The device authorization grant's user code page (RFC 8628 5.1: user codes are short, so
     * their entry is rate limited): submissions per client IP, and per user code, each counted
     * before the code is looked up. `pollIntervalSeconds` is the `interval` a device is told to
     * wait between polls of the token endpoint; polling sooner answers slow_down (section 3.5).
     */
    deviceFlow: z.object({ pollIntervalSeconds: seconds.max(60), perIp: limit, perCode: limit }).strict(),
    /** Forgot email address (E1-E3): lookups per IP, and per account ID or address asked about. */
    forgotEmail: z
      .object({
        perIp: limit,
        perIdentifier: limit,
      })
      .strict(),
    /** Passkeys and security keys (WebAuthn, issue 17). rpID and origin come from `issuer`. */
    passkeys: z
      .object({
        /** The name authenticators show beside the account. */
        rpName: z.string().min(1).max(64),
        /** How long a challenge can be answered; each is used once (WebAuthn L3 13.4.3). */
        challengeSeconds: seconds.max(600),
        /** Passkey sign-ins (without a password) per account, counted before the signature is checked. */
        attemptsPerAccount: limit,
        /** Passkey sign-ins from one IP, across accounts. */
        attemptsPerIp: limit,
        /** "Not now" on the offer of a passkey after a password login waits this many days. */
        promptSnoozeDays: z.number().int().min(1).max(365),
        /** Offer a passkey right after a password login to accounts without one (issue 17's upgrade prompt). */
        upgradePrompt: z.boolean(),
      })
      .strict(),
    /** Second factors (L3, PR5). */
    mfa: z
      .object({
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
        duo: z
          .object({
            clientId: z.string().length(20, 'Duo client IDs are 20 characters'),
            clientSecret: z.string().length(40, 'Duo client secrets are 40 characters'),
            apiHost: z
              .string()
              .min(1)
              .regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'a host name such as api-xxxxxxxx.duosecurity.com'),
          })
          .strict()
          .optional(),
      })
      .strict(),
    courier: z
      .object({
        /** The safety poll: new mail wakes the courier at once (LISTEN/NOTIFY), retries when due. */
        pollIntervalMs: z.number().int().min(50).max(600_000),
        maxAttempts: z.number().int().min(1).max(50),
        /** First retry after this long, doubling up to maxBackoffSeconds. */
        backoffSeconds: seconds,
        maxBackoffSeconds: seconds,
      })
      .strict(),
    /** The languages pages, the globe menu and the profile offer, in menu order; `default` is one of them. */
    locales: z
      .object({
        supported: z
          .array(z.enum(['ja', 'en']))
          .min(1)
          .refine((list) => new Set(list).size === list.length, 'lists a language twice'),
        default: z.enum(['ja', 'en']),
      })
      .strict()
      .refine((locales) => locales.supported.includes(locales.default), {
        error: 'is not one of locales.supported',
        path: ['default'],
      }),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
