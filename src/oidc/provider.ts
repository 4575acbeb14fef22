import Provider, {
  errors,
  interactionPolicy,
  type Adapter,
  type Configuration,
  type KoaContextWithOIDC,
} from 'oidc-provider';
import type { Config } from '../config/schema.js';
import type { Db } from '../db/database.js';
import { loadExistingGrant } from './remembered-consent.js';
import { accountClientMetadata } from './account-client.js';
import { ACR, phishingResistant, requestsMfa } from './acr.js';
import { createFindAccount } from './find-account.js';
import { pairwiseIdentifier } from './pairwise.js';
import { leaveLogoutNoticesToTheOutbox } from './backchannel-logout.js';
import { sessionLifetime, sessionTtl } from './session-lifetime.js';
import type { RecentAccounts } from '../identity/accounts/recent.js';
import type { ResourceServers } from './resource-servers.js';
import { CookieSigner } from '../security/cookie-signer.js';

/** The pages oidc-provider shows itself; the web layer (interactions/) renders them. */
export interface ProviderPages {
  /** An OAuth error shown to a person (not redirected to the RP). */
  error(ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }, err?: unknown): void;
  /** RP-initiated logout's "log out?" question; `form` is oidc-provider's hidden form. */
  logout(ctx: KoaContextWithOIDC, form: string): void;
  /** After a logout without a post_logout_redirect_uri. */
  loggedOut(ctx: KoaContextWithOIDC): void;
  /**
   * The device flow's user code entry (RFC 8628 3.3), again with the reason when a code was
   * refused; `form` is oidc-provider's form (its xsrf token).
   */
  deviceCodeInput(ctx: KoaContextWithOIDC, form: string, out?: { error: string }, err?: Error): void;
  /** "Does your device show this code?", before the login (RFC 8628 5.4). */
  deviceCodeConfirm(
    ctx: KoaContextWithOIDC,
    form: string,
    client: { clientId: string; clientName?: string | undefined },
    userCode: string,
  ): void;
  /** The device got its tokens' grant: the user may go back to it. */
  deviceSuccess(ctx: KoaContextWithOIDC): void;
}

export interface ProviderDeps {
  config: Readonly<Config>;
  db: Db;
  adapter: (model: string) => Adapter;
  jwks: { keys: object[] };
  cookieKeys: string[];
  /** The session cookie's name (http/cookie-names.ts: __Host- prefixed with an https issuer). */
  sessionCookie: string;
  pages: ProviderPages;
  /** Accounts a login has just read (findAccount asks for them again moments later). */
  recentAccounts?: RecentAccounts;
  /** Resource servers clients may ask tokens for (RFC 8707): the admin API, later registered ones. */
  resourceServers: ResourceServers;
  /** The salt of pairwise subject identifiers (a pinned derived key, the same in every process). */
  pairwiseKey: Buffer;
}

/** Web clients may call the token, userinfo and revocation endpoints from their registered origins. */
function clientBasedCORS(_ctx: KoaContextWithOIDC, origin: string, client: { redirectUris?: string[] }): boolean {
  return (client.redirectUris ?? []).some((uri) => {
    try {
      return new URL(uri).origin === origin;
    } catch {
      return false;
    }
  });
}

/**
 * oidc-provider's prompts, plus: a relying party asking for MFA (acr_values) while the session
 * only has a password sends the user through the login again, where the second factor is asked.
 */
function interactionsPolicy() {
  const policy = interactionPolicy.base();
  const login = policy.get('login');
  login?.checks.add(
    new interactionPolicy.Check(
      'mfa_requested',
      'The relying party asked for multi-factor authentication',
      'login_required',
      (ctx) => requestsMfa(ctx.oidc.params ?? {}) && ctx.oidc.acr !== ACR.mfa,
    ),
  );
  // Issue 17: an account whose company requires a phishing-resistant factor logs in again with a
  // passkey or security key when its session was made without one (before the policy was set).
  login?.checks.add(
    new interactionPolicy.Check(
      'phishing_resistant_required',
      'The account must log in with a passkey or security key',
      'login_required',
      (ctx) => ctx.oidc.account?.phishingResistantRequired === true && !phishingResistant(ctx.oidc.amr),
    ),
  );
  // A session whose account findAccount no longer returns (put on hold or disabled while it was
  // being used) logs in again, where the password step says why it cannot; without this check
  // oidc-provider's consent prompt fails on the missing account's grant (a 500).
  login?.checks.add(
    new interactionPolicy.Check(
      'account_unavailable',
      'The signed-in account cannot log in',
      'login_required',
      (ctx) => Boolean(ctx.oidc.session?.accountId) && !ctx.oidc.account,
    ),
  );
  // OIDC Initiating User Registration 1.0: prompt=create sends the user to sign-up first (the
  // interaction's 'create' prompt); the login that follows the sign-up resolves it. The check
  // oidc-provider adds to a requestable prompt would wait for a 'create' result instead.
  const create = new interactionPolicy.Prompt(
    { name: 'create', requestable: true },
    new interactionPolicy.Check(
      'create_requested',
      'The relying party asked for account creation',
      'interaction_required',
      (ctx) => ctx.oidc.prompts.has('create') && !ctx.oidc.result?.login,
    ),
  );
  create.checks.remove('create_prompt');
  policy.add(create, 0);
  return policy;
}

/**
 * RFC 8628 3.5: a device polling after its code expired is told expired_token. oidc-provider says
 * so only while the expired code is still stored, so device codes are kept this long past their
 * expiry (invisible to the user code page, which refuses an expired code like a wrong one).
 */
const DEVICE_CODE_KEPT_EXPIRED_SECONDS = 600;

function keptPastExpiry(inner: Adapter): Adapter {
  return {
    upsert: (id, payload, expiresIn) =>
      expiresIn === undefined
        ? inner.upsert(id, payload)
        : inner.upsert(id, payload, expiresIn + DEVICE_CODE_KEPT_EXPIRED_SECONDS),
    find: (id) => inner.find(id),
    findByUserCode: (userCode) => inner.findByUserCode(userCode),
    findByUid: (uid) => inner.findByUid(uid),
    consume: (id) => inner.consume(id),
    destroy: (id) => inner.destroy(id),
    revokeByGrantId: (grantId) => inner.revokeByGrantId(grantId),
  };
}

/**
 * oidc-provider's JSON endpoints (its default routes): they answer machines, not people, so the
 * page machinery (security headers for HTML, page routers, static files, language cookie, the
 * page error handler) is skipped for them.
 */
export const PROVIDER_API_PATHS: ReadonlySet<string> = new Set([
  '/token',
  '/token/introspection',
  '/token/revocation',
  '/me',
  '/jwks',
  '/.well-known/openid-configuration',
  // RFC 8628 3.1: the device authorization endpoint (the /device pages are pages).
  '/device/auth',
]);

export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const configuration: Configuration = {
    adapter: (model: string) => (model === 'DeviceCode' ? keptPastExpiry(deps.adapter(model)) : deps.adapter(model)),
    enableHttpPostMethods: true,
    clients: [accountClientMetadata(config.issuer) as unknown as NonNullable<Configuration['clients']>[number]],
    findAccount: createFindAccount(deps.db, deps.recentAccounts),
    loadExistingGrant: loadExistingGrant(deps.db, deps.recentAccounts),
    jwks: deps.jwks,
    cookies: {
      keys: new CookieSigner(deps.cookieKeys),
      // The session cookie is scoped to / (the interaction and resume cookies to their own paths).
      names: {
        session: deps.sessionCookie,
        interaction: 'monban_interaction',
        resume: 'monban_resume',
      },
      // OIDC Core 3.1.2.1 and RP-Initiated Logout 1.0 section 2: the authorization and end-session
      // endpoints take POST too. A cross-site form POST carries the session cookie only when it is
      // SameSite=None (oidc-provider requires that for enableHttpPostMethods); a plain-http issuer
      // (development) gets Lax instead, see laxCookiesOnPlainHttp.
      long: { httpOnly: true, sameSite: 'none', signed: true },
      short: { httpOnly: true, sameSite: 'lax', signed: true },
    },
    claims: {
      // OP2: every ID token tells the RP how and when the user logged in. oidc-provider adds
      // standalone claims (acr, auth_time) only when the RP asks for them (acr_values, max_age,
      // claims), and amr not at all, so they ride on the openid scope.
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'locale', 'zoneinfo', 'updated_at'],
      phone: ['phone_number', 'phone_number_verified'],
      // M4: the companies the user belongs to, with the role there; gone once they leave.
      companies: ['companies'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'phone', 'companies'],
    // OIDC Discovery 1.0 section 3: the languages of the pages, so an RP can send a matching ui_locales.
    // prompt_values_supported: OIDC Initiating User Registration 1.0 section 4 (oidc-provider
    // publishes none); `create` is the interaction policy's own prompt (interactionsPolicy).
    discovery: {
      ui_locales_supported: [...config.locales.supported],
      prompt_values_supported: ['none', 'login', 'consent', 'create'],
    },
    acrValues: [ACR.password, ACR.mfa],
    // Request objects are signed with a client's own public keys only: no HS256 with its secret,
    // no unsigned ones (discovery's request_object_signing_alg_values_supported says so).
    enabledJWA: { requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256', 'EdDSA'] },
    // OIDC Core 8.1: a client registered with subject_type pairwise gets its own sub per user.
    subjectTypes: ['public', 'pairwise'],
    pairwiseIdentifier: pairwiseIdentifier(deps.pairwiseKey),
    // The sector_identifier_uri is read once, when an admin registers the client
    // (admin/sector-identifier.ts); oidc-provider would fetch it whenever a process loads it.
    sectorIdentifierUriValidate: () => false,
    responseTypes: ['code'],
    // RFC 9700 2.1.1: PKCE for every client, confidential ones included; only S256 exists in v9.
    pkce: { required: () => true },
    // Every use of a refresh token yields a new one; reuse of an old one revokes the grant.
    rotateRefreshToken: true,
    // OP2: the ID token carries the claims of the granted scopes (email, profile, ...), not only
    // sub; OIDC Core 5.4 allows it, and relying parties read the email from the ID token.
    conformIdTokenClaims: false,
    clientBasedCORS: clientBasedCORS as Configuration['clientBasedCORS'],
    // `admin: true` marks a client an admin made an admin client: only those may get tokens for
    // the admin API (resource-servers.ts).
    extraClientMetadata: {
      properties: ['admin'],
      validator: (_ctx, key, value) => {
        if (key === 'admin' && value !== undefined && typeof value !== 'boolean')
          throw new errors.InvalidClientMetadata('admin must be true or false');
      },
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // RFC 7662 4: only a caller entitled to a token may learn about it. A client may introspect
      // the tokens issued to it, a registered resource server those issued for it; anything else
      // answers {active: false}.
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx, client, token) => deps.resourceServers.mayIntrospect(client.clientId, token),
      },
      revocation: { enabled: true },
      // RFC 8707: `resource` names the API a token is for. Without one, tokens stay as before
      // (opaque, for userinfo); with one, resource-servers.ts decides (short-lived JWTs).
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined,
        useGrantedResource: () => false,
        getResourceServerInfo: (_ctx, indicator, client) => deps.resourceServers.resourceServerInfo(indicator, client),
      },
      userinfo: { enabled: true },
      // OIDC Core 5.5: the claims request parameter; an essential acr naming the MFA class asks
      // for the second factor like acr_values does (acr.ts).
      claimsParameter: { enabled: true },
      // RFC 9101 (JAR): an authorization request may come as a request object (`request`) signed
      // with the client's registered keys (jwks or jwks_uri); a client registered with
      // require_signed_request_object must send one. `request_uri` by reference is not offered.
      // Section 10.2: iss and aud are checked by oidc-provider; exp is required here too, so a
      // request object cannot be replayed forever.
      requestObjects: {
        enabled: true,
        requireSignedRequestObject: false,
        assertJwtClaimsAndHeader: (_ctx, claims) => {
          if (typeof claims.exp !== 'number') throw new errors.InvalidRequestObject("the request object needs 'exp'");
        },
      },
      // OIDC Back-Channel Logout 1.0: clients register a backchannel_logout_uri; the notices
      // go out through the outbox when a session ends (backchannel-logout.ts).
      backchannelLogout: { enabled: true },
      // RFC 8628: a client registered with the device_code grant (a CLI, a TV) shows a user code
      // that the user enters at /device, then logs in and consents in our pages. User codes are
      // 8 letters from 20 (about 34 bits, section 6.1), entered with a per-IP and per-code
      // throttle (flows/device/service.ts); polling too fast answers slow_down (section 3.5).
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource: (ctx, form, out, err) => {
          deps.pages.deviceCodeInput(ctx, form, out, err);
        },
        userCodeConfirmSource: (ctx, form, client, _deviceInfo, userCode) => {
          deps.pages.deviceCodeConfirm(ctx, form, client, userCode);
        },
        successSource: (ctx) => {
          deps.pages.deviceSuccess(ctx);
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: (ctx, form) => {
          deps.pages.logout(ctx, form);
        },
        postLogoutSuccessSource: (ctx) => {
          deps.pages.loggedOut(ctx);
        },
      },
    },
    interactions: {
      policy: interactionsPolicy(),
      // prompt=create starts at sign-up (`?signup`); its "back to login" link, the plain address,
      // shows the email step. The interaction cookie's path is the address's path either way.
      url: (_ctx, interaction) =>
        `/interaction/${interaction.uid}${interaction.prompt.name === 'create' ? '?signup' : ''}`,
    },
    renderError: (ctx, out, err) => {
      deps.pages.error(ctx, out, err);
    },
    ttl: {
      // A signed-in session is stored (and its cookie kept) until its absolute end; the idle
      // limit is checked where sessions are read (session-lifetime.ts).
      Session: (_ctx, session) => sessionTtl(sessionLifetime(config), session),
      Interaction: config.ttl.interaction,
      AuthorizationCode: config.ttl.authorizationCode,
      DeviceCode: config.ttl.deviceCode,
      // A token for a resource server lives as long as that resource says.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.accessToken,
      IdToken: config.ttl.idToken,
      RefreshToken: config.ttl.refreshToken,
      Grant: config.ttl.grant,
      // Likewise for client_credentials (the admin API: 5 min).
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? config.ttl.clientCredentials,
    },
  };
  const provider = new Provider(config.issuer, configuration);
  leaveLogoutNoticesToTheOutbox(provider);
  return provider;
}
