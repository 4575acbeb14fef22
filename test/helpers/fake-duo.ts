import { randomBytes } from 'node:crypto';
import { createServer, Agent, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, type ClientOptions } from '@duosecurity/duo_universal';
import { SignJWT, jwtVerify } from 'jose';
import { selfSignedCertificate } from './certificate.js';

export type DuoDecision = 'allow' | 'deny';

interface Transaction {
  username: string;
  state: string;
  redirectUri: string;
  nonce?: string;
}
interface IssuedCode {
  username: string;
  redirectUri: string;
  result: DuoDecision;
  nonce?: string;
  used: boolean;
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A stand-in for Duo's Universal Prompt service on 127.0.0.1 over HTTPS: the health check, the
 * authorize page (Approve / Deny buttons, redirecting back with duo_code and state) and the token
 * endpoint (an HS512 id_token signed with the client secret), checking the client's signed
 * requests the way Duo does. The real @duosecurity/duo_universal client talks to it; only its
 * HTTPS agent is swapped to trust this server's certificate instead of Duo's pinned CAs.
 */
export class FakeDuo {
  readonly clientId = `DI${randomBytes(9).toString('hex').toUpperCase()}`;
  readonly clientSecret = randomBytes(20).toString('hex');
  /** Set false to make the health check fail (Duo down). */
  healthy = true;
  /** Every request path received, in order. */
  readonly requests: string[] = [];
  /**
   * When set, the id_tokens it issues name this user instead of the one the prompt was opened
   * for (an approval meant for someone else, or a mix-up on Duo's side).
   */
  usernameOverride?: string;
  #server?: Server;
  #cert = selfSignedCertificate();
  #secret = new TextEncoder().encode(this.clientSecret);
  #transactions = new Map<string, Transaction>();
  #codes = new Map<string, IssuedCode>();
  #port = 0;

  get apiHost(): string {
    return `127.0.0.1:${this.#port}`;
  }

  get baseUrl(): string {
    return `https://${this.apiHost}`;
  }

  /** The PEM certificate browsers and clients must trust to talk to it. */
  get certificate(): string {
    return this.#cert.cert;
  }

  /** Monban's mfa.duo settings for this fake. */
  get settings(): { clientId: string; clientSecret: string; apiHost: string } {
    return { clientId: this.clientId, clientSecret: this.clientSecret, apiHost: this.apiHost };
  }

  /** The real library's client, trusting this server's certificate (its only change). */
  readonly clientFactory = (options: ClientOptions): Client => {
    const client = new Client(options);
    (client as unknown as { axios: { defaults: { httpsAgent: Agent } } }).axios.defaults.httpsAgent = new Agent({
      ca: this.#cert.cert,
    });
    return client;
  };

  async start(): Promise<this> {
    this.#server = createServer({ key: this.#cert.key, cert: this.#cert.cert }, (req, res) => {
      this.#handle(req, res).catch((err: unknown) =>
        this.#json(res, 400, { stat: 'FAIL', message: 'bad request', message_detail: String(err) }),
      );
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.#port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.#server) return;
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
  }

  /**
   * What pressing Approve (or Deny) on the prompt for this authorize URL does: the URL Duo
   * sends the browser back to. For tests that drive the pages without a browser.
   */
  async decide(authUrl: string, decision: DuoDecision): Promise<string> {
    const url = new URL(authUrl);
    const txid = await this.#openTransaction(url.searchParams);
    return this.#redirectBack(txid, decision);
  }

  async #openTransaction(query: URLSearchParams): Promise<string> {
    const request = query.get('request') ?? '';
    const { payload } = await jwtVerify(request, this.#secret, {
      algorithms: ['HS512'],
      audience: this.baseUrl,
      issuer: this.clientId,
    });
    if (query.get('client_id') !== this.clientId || payload.client_id !== this.clientId)
      throw new Error('unknown client');
    if (payload.redirect_uri !== query.get('redirect_uri')) throw new Error('redirect_uri mismatch');
    if (typeof payload.duo_uname !== 'string' || typeof payload.state !== 'string')
      throw new Error('missing duo_uname or state');
    const txid = randomBytes(16).toString('hex');
    this.#transactions.set(txid, {
      username: payload.duo_uname,
      state: payload.state,
      redirectUri: String(payload.redirect_uri),
      ...(typeof payload.nonce === 'string' ? { nonce: payload.nonce } : {}),
    });
    return txid;
  }

  #redirectBack(txid: string, decision: DuoDecision): string {
    const txn = this.#transactions.get(txid);
    if (!txn) throw new Error('unknown transaction');
    this.#transactions.delete(txid);
    const code = randomBytes(24).toString('base64url');
    this.#codes.set(code, {
      username: txn.username,
      redirectUri: txn.redirectUri,
      result: decision,
      used: false,
      ...(txn.nonce ? { nonce: txn.nonce } : {}),
    });
    const back = new URL(txn.redirectUri);
    back.searchParams.set('duo_code', code);
    back.searchParams.set('state', txn.state);
    return back.toString();
  }

  async #verifyAssertion(form: URLSearchParams, endpoint: string): Promise<void> {
    await jwtVerify(form.get('client_assertion') ?? '', this.#secret, {
      algorithms: ['HS512'],
      audience: `${this.baseUrl}${endpoint}`,
      issuer: this.clientId,
      subject: this.clientId,
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    this.requests.push(url.pathname);
    if (req.method === 'POST' && url.pathname === '/oauth/v1/health_check') {
      await this.#verifyAssertion(await readForm(req), '/oauth/v1/health_check');
      if (!this.healthy)
        return this.#json(res, 503, {
          stat: 'FAIL',
          code: 50301,
          message: 'Service unavailable',
          message_detail: 'fake outage',
        });
      return this.#json(res, 200, { stat: 'OK', response: { timestamp: Math.floor(Date.now() / 1000) } });
    }
    if (req.method === 'GET' && url.pathname === '/oauth/v1/authorize') {
      const txid = await this.#openTransaction(url.searchParams);
      const user = escapeHtml(this.#transactions.get(txid)!.username);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!doctype html><title>Duo (fake)</title><h1>Duo Security</h1><p id="duo-user">${user}</p>
<form method="post" action="/oauth/v1/decide"><input type="hidden" name="txid" value="${txid}">
<button name="decision" value="allow" id="duo-approve">Approve</button>
<button name="decision" value="deny" id="duo-deny">Deny</button></form>`);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/oauth/v1/decide') {
      const form = await readForm(req);
      const location = this.#redirectBack(form.get('txid') ?? '', form.get('decision') === 'allow' ? 'allow' : 'deny');
      res.writeHead(302, { location });
      res.end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/oauth/v1/token') {
      const form = await readForm(req);
      await this.#verifyAssertion(form, '/oauth/v1/token');
      const issued = this.#codes.get(form.get('code') ?? '');
      if (
        !issued ||
        issued.used ||
        issued.redirectUri !== form.get('redirect_uri') ||
        form.get('grant_type') !== 'authorization_code'
      ) {
        return this.#json(res, 400, { error: 'invalid_grant', error_description: 'The authorization code is invalid' });
      }
      issued.used = true;
      const now = Math.floor(Date.now() / 1000);
      const username = this.usernameOverride ?? issued.username;
      const idToken = await new SignJWT({
        preferred_username: username,
        auth_time: now,
        auth_result: {
          result: issued.result,
          status: issued.result,
          status_msg: issued.result === 'allow' ? 'Login Successful' : 'Login denied',
        },
        auth_context: { result: issued.result, factor: 'duo_push', user: { name: username, key: null, groups: [] } },
        ...(issued.nonce ? { nonce: issued.nonce } : {}),
      })
        .setProtectedHeader({ alg: 'HS512' })
        .setIssuer(`${this.baseUrl}/oauth/v1/token`)
        .setAudience(this.clientId)
        .setSubject(username)
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(this.#secret);
      return this.#json(res, 200, {
        id_token: idToken,
        access_token: randomBytes(16).toString('hex'),
        expires_in: 3600,
        token_type: 'Bearer',
      });
    }
    this.#json(res, 404, { stat: 'FAIL', message: 'not found' });
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }
}
