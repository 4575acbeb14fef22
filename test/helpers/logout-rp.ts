import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { freePort } from './ports.js';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

/**
 * A relying party's back-channel logout endpoint on loopback (OIDC Back-Channel Logout 1.0
 * section 2.6-2.8): it takes the POSTed logout_token, verifies it with jose against Monban's
 * JWKS (signature, iss, aud = its client_id, iat), checks the logout event and that there is
 * no nonce, and keeps the verified claims. It can be down (connection refused) and come back.
 */
export class LogoutRp {
  readonly received: JWTPayload[] = [];
  readonly refused: string[] = [];
  #server: Server | undefined;
  #port = 0;
  #waiters: (() => void)[] = [];
  clientId = '';

  constructor(readonly issuer: string) {}

  get uri(): string {
    return `http://localhost:${this.#port}/backchannel-logout`;
  }

  async start(): Promise<this> {
    if (!this.#port) this.#port = await freePort();
    const jwks = createRemoteJWKSet(new URL(`${this.issuer}/jwks`));
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      req.on('end', () => {
        const token = new URLSearchParams(body).get('logout_token') ?? '';
        this.#verify(token, jwks).then(
          (claims) => {
            this.received.push(claims);
            res.writeHead(200, { 'cache-control': 'no-store' }).end();
            for (const wake of this.#waiters.splice(0)) wake();
          },
          (err: unknown) => {
            this.refused.push(String(err));
            res.writeHead(400).end();
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.#port, '127.0.0.1', resolve));
    return this;
  }

  async #verify(token: string, jwks: ReturnType<typeof createRemoteJWKSet>): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, jwks, {
      issuer: this.issuer,
      audience: this.clientId,
      requiredClaims: ['iat', 'jti', 'events'],
    });
    const events = payload.events as Record<string, unknown> | undefined;
    if (!events || typeof events[BACKCHANNEL_LOGOUT_EVENT] !== 'object') throw new Error('no logout event');
    if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
    if (!payload.sub && !payload.sid) throw new Error('neither sub nor sid');
    return payload;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Waits until `count` tokens have arrived (the test's own timeout bounds the wait). */
  async waitFor(count: number): Promise<JWTPayload[]> {
    while (this.received.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.received;
  }
}
