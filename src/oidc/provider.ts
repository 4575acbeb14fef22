import type { Context } from 'koa';
import Provider, { interactionPolicy, type Adapter, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { Db } from '../db/database.js';
import { renderPage, type PageDeps } from '../http/page.js';
import { accountClientMetadata } from './account-client.js';
import { ACR, requestsMfa } from './acr.js';
import { createFindAccount } from './find-account.js';

export interface ProviderDeps extends PageDeps {
  db: Db;
  adapter: (model: string) => Adapter;
  jwks: { keys: object[] };
  cookieKeys: string[];
}

/** OAuth errors shown to a person get a friendly sentence; the code and description stay visible for support. */
async function renderError(deps: PageDeps, ctx: KoaContextWithOIDC, out: { error: string; error_description?: string }) {
  renderPage(ctx as unknown as Context, deps, 'pages/error', {
    title: 'errors.title',
    messageKey: 'errors.OAUTH',
    oauthError: out.error,
    oauthDescription: out.error_description,
  }, { status: ctx.status >= 400 ? ctx.status : 400 });
}

/** Web clients may call the token, userinfo and revocation endpoints from their registered origins. */
function clientBasedCORS(_ctx: KoaContextWithOIDC, origin: string, client: { redirectUris?: string[] }): boolean {
  return (client.redirectUris ?? []).some((uri) => {
    try { return new URL(uri).origin === origin; } catch { return false; }
  });
}

/**
 * oidc-provider's prompts, plus: a relying party asking for MFA (acr_values) while the session
 * only has a password sends the user through the login again, where the second factor is asked.
 */
function interactionsPolicy() {
  const policy = interactionPolicy.base();
  policy.get('login')!.checks.add(new interactionPolicy.Check(
    'mfa_requested',
    'The relying party asked for multi-factor authentication',
    'login_required',
    (ctx) => requestsMfa(ctx.oidc.params ?? {}) && ctx.oidc.acr !== ACR.mfa,
  ));
  return policy;
}

export function createProvider(deps: ProviderDeps): Provider {
  const { config } = deps;
  const configuration: Configuration = {
    adapter: deps.adapter as unknown as Configuration['adapter'],
    clients: [accountClientMetadata(config.issuer) as unknown as NonNullable<Configuration['clients']>[number]],
    findAccount: createFindAccount(deps.db),
    jwks: deps.jwks as Configuration['jwks'],
    cookies: {
      keys: deps.cookieKeys,
      names: { session: 'monban_session', interaction: 'monban_interaction', resume: 'monban_resume' },
      long: { httpOnly: true, sameSite: 'lax', signed: true },
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
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'phone'],
    acrValues: [ACR.password, ACR.mfa],
    responseTypes: ['code'],
    // RFC 9700 2.1.1: PKCE for every client, confidential ones included; only S256 exists in v9.
    pkce: { required: () => true },
    // Every use of a refresh token yields a new one; reuse of an old one revokes the grant.
    rotateRefreshToken: true,
    // OP2: the ID token carries the claims of the granted scopes (email, profile, ...), not only
    // sub; OIDC Core 5.4 allows it, and relying parties read the email from the ID token.
    conformIdTokenClaims: false,
    clientBasedCORS: clientBasedCORS as Configuration['clientBasedCORS'],
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
      // the tokens issued to it; anything else answers {active: false}.
      introspection: {
        enabled: true,
        allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          renderPage(ctx as unknown as Context, deps, 'interaction/logout', {
            title: 'logout.title',
            form,
            clientName: ctx.oidc.client?.clientName,
          });
        },
        postLogoutSuccessSource: async (ctx) => {
          renderPage(ctx as unknown as Context, deps, 'interaction/logged-out', {
            title: 'logout.doneTitle',
            clientName: ctx.oidc.client?.clientName,
          });
        },
      },
    },
    interactions: { policy: interactionsPolicy(), url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: (ctx, out) => renderError(deps, ctx, out),
    ttl: {
      Session: config.ttl.session,
      Interaction: config.ttl.interaction,
      AuthorizationCode: config.ttl.authorizationCode,
      AccessToken: config.ttl.accessToken,
      IdToken: config.ttl.idToken,
      RefreshToken: config.ttl.refreshToken,
      Grant: config.ttl.grant,
      ClientCredentials: config.ttl.clientCredentials,
    },
  };
  const provider = new Provider(config.issuer, configuration);
  provider.proxy = config.trustProxy;
  return provider;
}
