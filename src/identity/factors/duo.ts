import { sameSecret } from '../../constant-time.js';
import { Client, type ClientOptions } from '@duosecurity/duo_universal';
import type { Config } from '../../config/schema.js';
import { AppError } from '../../errors.js';

export type DuoSettings = NonNullable<Config['mfa']['duo']>;
/** Builds the library's client; tests pass one that talks to a fake Duo on loopback. */
export type DuoClientFactory = (options: ClientOptions) => Client;

export const defaultDuoClient: DuoClientFactory = (options) => new Client(options);

/**
 * Duo Universal Prompt (Web SDK v4) through Duo's own library: its health check, its signed
 * request, its token exchange and its id_token verification (HS512 with the client secret,
 * issuer, audience, and the username Duo authenticated).
 */
export class DuoGateway {
  constructor(
    private readonly settings: DuoSettings | undefined,
    private readonly createClient: DuoClientFactory = defaultDuoClient,
  ) {}

  get enabled(): boolean {
    return this.settings !== undefined;
  }

  #client(redirectUrl: string): Client {
    if (!this.settings) throw new AppError('DUO_UNAVAILABLE');
    return this.createClient({ ...this.settings, redirectUrl });
  }

  /**
   * Where to send the browser, and the state to bind to it. Duo's health check runs first; when
   * Duo does not answer, the login fails closed with DUO_UNAVAILABLE.
   */
  async start(redirectUrl: string, username: string): Promise<{ url: string; state: string }> {
    const client = this.#client(redirectUrl);
    try {
      await client.healthCheck();
    } catch {
      throw new AppError('DUO_UNAVAILABLE');
    }
    const state = client.generateState();
    return { url: await client.createAuthUrl(username, state), state };
  }

  /**
   * Duo sent the browser back to `redirectUrl` with `query`. True only when the state is the one
   * this browser was given and Duo approved `username`; a denial, an error, another user or a
   * forged or replayed code is false.
   */
  async approved(
    redirectUrl: string,
    username: string,
    expectedState: string | undefined,
    query: Record<string, unknown>,
  ): Promise<boolean> {
    const code = query.duo_code ?? query.code;
    if (!stateMatches(expectedState, query.state) || typeof code !== 'string' || query.error !== undefined)
      return false;
    try {
      const result = await this.#client(redirectUrl).exchangeAuthorizationCodeFor2FAResult(code, username);
      return result.auth_result.result === 'allow';
    } catch {
      return false;
    }
  }
}

function stateMatches(expected: string | undefined, given: unknown): boolean {
  return Boolean(expected) && sameSecret(expected, given);
}
