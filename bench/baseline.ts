/**
 * The benchmark's yardstick: a bare oidc-provider (the library Monban is built on), in memory,
 * configured to issue the same tokens as Monban (opaque access and refresh tokens, RS256 ID
 * tokens from one of two published 2048-bit keys, PKCE, rotating refresh tokens, the same
 * scopes, claims, lifetimes and introspection policy). It stores models in a plain Map: no
 * network, no database. Accounts are made up on the spot by `findAccount`.
 *
 * Its interaction page finishes at once (login as the request's login_hint, consent to the
 * requested scopes), so a login through it costs what the library's own part of a login does:
 * the authorization request, the interaction, the resume and the code exchange.
 *
 * IPC (see ipc.ts): `start` listens and answers with the client and tokens for the phases
 * (an access token for userinfo and one refresh token per refresh chain); `steps-start` and
 * `steps-stop` record main-thread CPU per request step (steps.ts).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider, { type Adapter, type AdapterPayload, type Configuration } from 'oidc-provider';
import { serveRequests } from './ipc.js';
import { startRecordingSteps, stopRecordingSteps } from './steps.js';

export interface BaselineStarted {
  port: number;
  pid: number;
  client: { clientId: string; clientSecret: string };
  userinfoToken: string;
  refreshTokens: string[];
}

interface Stored {
  payload: AdapterPayload;
  expiresAt: number;
}

const store = new Map<string, Stored>();

/** oidc-provider's adapter contract over one Map, expiring lazily and in a sweep every 10 s. */
class MapAdapter implements Adapter {
  constructor(private readonly model: string) {}

  #key(id: string) {
    return `${this.model}:${id}`;
  }

  upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.#key(id);
    store.set(key, { payload, expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : Infinity });
    if (payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      const members = (store.get(grantKey)?.payload.members as string[] | undefined) ?? [];
      store.set(grantKey, { payload: { members: [...members, key] }, expiresAt: Infinity });
    }
    if (payload.uid) store.set(`${this.model}:uid:${payload.uid}`, { payload: { id }, expiresAt: Infinity });
    return Promise.resolve();
  }

  find(id: string): Promise<AdapterPayload | undefined> {
    const stored = store.get(this.#key(id));
    return Promise.resolve(stored && stored.expiresAt >= Date.now() ? stored.payload : undefined);
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    const pointer = store.get(`${this.model}:uid:${uid}`)?.payload.id;
    return typeof pointer === 'string' ? this.find(pointer) : Promise.resolve(undefined);
  }

  findByUserCode(): Promise<undefined> {
    return Promise.resolve(undefined);
  }

  consume(id: string): Promise<void> {
    const stored = store.get(this.#key(id));
    if (stored) stored.payload.consumed = Math.floor(Date.now() / 1000);
    return Promise.resolve();
  }

  destroy(id: string): Promise<void> {
    store.delete(this.#key(id));
    return Promise.resolve();
  }

  revokeByGrantId(grantId: string): Promise<void> {
    const grantKey = `grant:${grantId}`;
    for (const key of (store.get(grantKey)?.payload.members as string[] | undefined) ?? []) store.delete(key);
    store.delete(grantKey);
    return Promise.resolve();
  }
}

setInterval(() => {
  const now = Date.now();
  for (const [key, stored] of store) if (stored.expiresAt < now) store.delete(key);
}, 10_000).unref();

async function signingKey() {
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
}

interface StartRequest {
  port: number;
  redirectUri: string;
  refreshChains: number;
}

let server: ReturnType<typeof createServer> | undefined;

/** The interaction page of a bare login: no form, the login_hint logs in and the scopes are granted. */
async function finishInteraction(provider: Provider, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { params } = await provider.interactionDetails(req, res);
  const accountId = typeof params.login_hint === 'string' ? params.login_hint : 'user-0';
  const grant = new provider.Grant({ accountId, clientId: String(params.client_id) });
  grant.addOIDCScope(String(params.scope));
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

async function start({ port, redirectUri, refreshChains }: StartRequest): Promise<BaselineStarted> {
  const issuer = `http://127.0.0.1:${port}`;
  const client = { clientId: 'bench-baseline', clientSecret: randomBytes(32).toString('base64url') };
  const configuration: Configuration = {
    adapter: MapAdapter,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    clients: [
      {
        client_id: client.clientId,
        client_secret: client.clientSecret,
        client_name: 'Baseline benchmark RP',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'RS256',
      },
    ],
    findAccount: (_ctx, sub) => ({
      accountId: sub,
      claims: () => ({
        sub,
        email: `${sub}@example.com`,
        email_verified: true,
        name: 'Taro Bench',
        given_name: 'Taro',
        family_name: 'Bench',
        locale: 'en',
        updated_at: 1_700_000_000,
      }),
    }),
    jwks: { keys: [await signingKey(), await signingKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'locale', 'zoneinfo', 'updated_at'],
      phone: ['phone_number', 'phone_number_verified'],
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'phone'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    rotateRefreshToken: true,
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: (_ctx, c, token) => Promise.resolve(token.clientId === c.clientId),
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    ttl: {
      Session: 1209600,
      Interaction: 3600,
      AuthorizationCode: 60,
      AccessToken: 3600,
      IdToken: 3600,
      RefreshToken: 1209600,
      Grant: 1209600,
      ClientCredentials: 600,
    },
  };
  const provider = new Provider(issuer, configuration);

  // Tokens as a login would leave them: a grant with the login's scopes, an access token for
  // userinfo, and a refresh token per chain (each chain rotates its own token).
  const rpClient = await provider.Client.find(client.clientId);
  if (!rpClient) throw new Error('the baseline client is missing');
  const scope = 'openid email profile offline_access';
  const authTime = Math.floor(Date.now() / 1000);
  const newGrant = async (accountId: string) => {
    const grant = new provider.Grant({ accountId, clientId: client.clientId });
    grant.addOIDCScope(scope);
    return grant.save();
  };
  const userinfoGrant = await newGrant('user-0');
  const userinfoToken = await new provider.AccessToken({
    accountId: 'user-0',
    client: rpClient,
    grantId: userinfoGrant,
    scope: 'openid email profile',
    gty: 'authorization_code',
  }).save();
  const refreshTokens: string[] = [];
  for (let i = 0; i < refreshChains; i += 1) {
    const accountId = `user-${i}`;
    refreshTokens.push(
      await new provider.RefreshToken({
        accountId,
        client: rpClient,
        grantId: await newGrant(accountId),
        scope,
        gty: 'authorization_code',
        authTime,
        iiat: authTime,
        expiresWithSession: false,
      }).save(),
    );
  }

  const handle = provider.callback();
  server = createServer((req, res) => {
    if (!req.url?.startsWith('/interaction/')) return void handle(req, res);
    finishInteraction(provider, req, res).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(err instanceof Error ? err.message : String(err));
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server!.once('error', reject);
    server!.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    pid: process.pid,
    client,
    userinfoToken,
    refreshTokens,
  };
}

serveRequests(
  async (command) => {
    if (command.kind === 'start') return start(command as unknown as StartRequest);
    if (command.kind === 'memory') return process.memoryUsage();
    if (command.kind === 'steps-start') return startRecordingSteps();
    if (command.kind === 'steps-stop') return stopRecordingSteps();
    throw new Error(`unknown request ${command.kind}`);
  },
  () => {
    server?.closeAllConnections();
    server?.close();
    return Promise.resolve();
  },
);
