import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { App } from '../../src/app.js';
import { createClient } from '../../src/admin/clients.js';
import type { AccountStatus } from '../../src/db/schema.js';
import { updateAccount } from '../../src/identity/accounts/repository.js';
import { createAccount } from '../../src/identity/accounts/service.js';

export const RP_CALLBACK = 'http://localhost:8976/cb';

export async function registerClient(
  app: App,
  options: { public?: boolean; redirectUris?: string[]; grants?: string[]; postLogout?: string[] } = {},
) {
  return createClient(app, {
    name: 'Test RP',
    redirectUris: options.redirectUris ?? [RP_CALLBACK],
    postLogoutRedirectUris: options.postLogout ?? ['http://localhost:8976/'],
    isPublic: options.public ?? false,
    extraGrants: options.grants ?? [],
  });
}

export const TEST_PASSWORD = 'Kaisha-Pass-2026!';

export async function registerUser(
  app: App,
  options: { email?: string; password?: string; locale?: 'ja' | 'en'; status?: AccountStatus } = {},
) {
  const account = await createAccount(app.db, app.hasher, app.policy, {
    email: options.email ?? `user-${randomBytes(4).toString('hex')}@example.com`,
    password: options.password ?? TEST_PASSWORD,
    givenName: 'Hanako',
    familyName: 'Yamada',
    locale: options.locale ?? 'ja',
    status: 'active',
    emailVerified: true,
  });
  if (options.status && options.status !== 'active')
    await updateAccount(app.db, account.id, { status: options.status });
  return account;
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** An authorization request URL as an RP would build it (code flow, S256 PKCE). */
export function authorizationUrl(issuer: string, clientId: string, params: Record<string, string> = {}) {
  const { verifier, challenge } = pkcePair();
  const url = new URL(`${issuer}/auth`);
  const state = randomBytes(8).toString('hex');
  const nonce = randomBytes(8).toString('hex');
  url.search = new URLSearchParams({
    client_id: clientId,
    response_type: 'code',
    redirect_uri: RP_CALLBACK,
    scope: 'openid email profile',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  }).toString();
  return { url: url.toString(), verifier, state, nonce };
}

const LOCALE_TEXTS: Record<'ja' | 'en', Record<string, unknown>> = {
  ja: JSON.parse(readFileSync(new URL('../../views/locales/ja.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >,
  en: JSON.parse(readFileSync(new URL('../../views/locales/en.json', import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >,
};

/** A message as views/locales holds it, with {{params}} filled in: what a user reads on the page. */
export function messageText(locale: 'ja' | 'en', key: string, params: Record<string, string | number> = {}): string {
  const value = key
    .split('.')
    .reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], LOCALE_TEXTS[locale]);
  if (typeof value !== 'string') throw new Error(`no message ${key} in ${locale}.json`);
  const filled: Record<string, string | number> = { product: 'Monban', ...params };
  return value.replace(/\{\{(\w+)\}\}/g, (_, name: string) => String(filled[name] ?? `{{${name}}}`));
}

/** A message in English or Japanese, as the pages and mails show it. */
export const en = (key: string, params: Record<string, string | number> = {}) => messageText('en', key, params);
export const ja = (key: string, params: Record<string, string | number> = {}) => messageText('ja', key, params);

/** POSTs a form to a token-family endpoint authenticated with client_secret_basic. */
export function postAsClient(
  url: string,
  client: { client_id: string; client_secret?: string },
  form: Record<string, string>,
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.client_id}:${client.client_secret ?? ''}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(form),
  });
}

/** Redeems an authorization code at the token endpoint as a confidential RP would. */
export function exchangeCode(
  issuer: string,
  client: { client_id: string; client_secret?: string },
  code: string,
  verifier: string,
  redirectUri = RP_CALLBACK,
): Promise<Response> {
  return postAsClient(`${issuer}/token`, client, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
  });
}

/** Asks for a client_credentials access token. */
export function requestServiceToken(
  issuer: string,
  client: { client_id: string; client_secret?: string },
): Promise<Response> {
  return postAsClient(`${issuer}/token`, client, { grant_type: 'client_credentials' });
}
