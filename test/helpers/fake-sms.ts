import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CaughtSms {
  sid: string;
  to: string;
  from: string;
  body: string;
  /** The account in the URL (the same as the authenticated one, or the request was refused). */
  accountSid: string;
  contentType: string;
}

/** One request as it arrived, answered or not (for counting attempts and checking headers). */
export interface SmsRequest {
  method: string;
  path: string;
  status: number;
  authorization: string | undefined;
  /** The To field, when the body had one. */
  to: string | undefined;
  /** When it arrived (ms since the epoch). */
  at: number;
}

const E164 = /^\+[1-9]\d{6,14}$/;
/** Twilio's magic test number for "invalid To": always refused with 21211. */
export const INVALID_NUMBER = '+15005550001';

/**
 * A Twilio-compatible SMS API on loopback: POST /2010-04-01/Accounts/{sid}/Messages.json with HTTP
 * basic auth and a form-encoded To/From/Body, answered like Twilio (201 with the message, or an
 * error object `{ code, message, more_info, status }`). Monban's real HTTP sender talks to it.
 */
export class FakeSmsProvider {
  readonly messages: CaughtSms[] = [];
  readonly requests: SmsRequest[] = [];
  readonly #accountSid = `AC${randomBytes(16).toString('hex')}`;
  readonly #authToken = randomBytes(16).toString('hex');
  #server: Server | undefined;
  #waiters: (() => void)[] = [];
  #failures: { count: number; status: number } = { count: 0, status: 503 };
  port = 0;

  async start(port = 0): Promise<this> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        if (!res.headersSent)
          this.#answer(req, res, 500, { code: 20500, message: 'Internal Server Error', status: 500 });
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject);
      this.#server!.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.#server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get accountSid(): string {
    return this.#accountSid;
  }

  get authToken(): string {
    return this.#authToken;
  }

  /** The next `count` requests (authenticated or not) are answered with `status` (500 or 503, say). */
  failNext(count: number, status = 503): void {
    this.#failures = { count, status };
  }

  /** Waits (up to `timeoutMs`) for a message to `to` that satisfies `match`, and returns it. */
  async waitFor(to: string, match: (sms: CaughtSms) => boolean = () => true, timeoutMs = 15_000): Promise<CaughtSms> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find((sms) => sms.to === to && match(sms));
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no text message to ${to} within ${timeoutMs} ms (have: ${this.messages.map((m) => m.to).join(', ') || 'none'})`,
        );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  messagesTo(to: string): CaughtSms[] {
    return this.messages.filter((sms) => sms.to === to);
  }

  /** Every request that came with `To: to`, whatever the answer. */
  requestsTo(to: string): SmsRequest[] {
    return this.requests.filter((request) => request.to === to);
  }

  #answer(req: IncomingMessage, res: ServerResponse, status: number, body: unknown, to?: string): void {
    this.requests.push({
      method: req.method ?? '',
      path: req.url ?? '',
      status,
      authorization: req.headers.authorization,
      to,
      at: Date.now(),
    });
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const contentType = req.headers['content-type'] ?? '';
    const form = new URLSearchParams(
      contentType.startsWith('application/x-www-form-urlencoded') ? Buffer.concat(chunks).toString('utf8') : '',
    );
    const to = form.get('To') ?? '';
    const from = form.get('From') ?? '';
    const body = form.get('Body') ?? '';
    const answer = (status: number, json: Record<string, unknown>) =>
      this.#answer(req, res, status, json, to || undefined);
    const refuse = (status: number, code: number, message: string) =>
      answer(status, { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status });

    if (this.#failures.count > 0) {
      this.#failures.count -= 1;
      const { status } = this.#failures;
      refuse(status, status === 503 ? 20503 : 20500, status === 503 ? 'Service Unavailable' : 'Internal Server Error');
      return;
    }

    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(
      new URL(req.url ?? '/', 'http://x').pathname,
    );
    if (!match) return refuse(404, 20404, 'The requested resource was not found');
    if (req.method !== 'POST') return refuse(405, 20004, 'Method not allowed');

    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ');
    const [user, ...rest] =
      scheme?.toLowerCase() === 'basic' && encoded ? Buffer.from(encoded, 'base64').toString('utf8').split(':') : [];
    const accountSid = decodeURIComponent(match[1]!);
    if (user !== this.#accountSid || rest.join(':') !== this.#authToken || accountSid !== this.#accountSid) {
      res.setHeader('www-authenticate', 'Basic realm="Twilio API"');
      return refuse(401, 20003, 'Authenticate');
    }

    if (!to) return refuse(400, 21604, "A 'To' phone number is required.");
    if (!E164.test(to) || to === INVALID_NUMBER)
      return refuse(400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (!from) return refuse(400, 21603, "A 'From' phone number is required.");
    if (!body) return refuse(400, 21602, 'Message body is required.');

    const sid = `SM${randomBytes(16).toString('hex')}`;
    this.messages.push({ sid, to, from, body, accountSid, contentType });
    for (const wake of this.#waiters.splice(0)) wake();
    const now = new Date().toUTCString();
    answer(201, {
      sid,
      account_sid: accountSid,
      to,
      from,
      body,
      status: 'queued',
      direction: 'outbound-api',
      num_segments: '1',
      date_created: now,
      date_updated: now,
      api_version: '2010-04-01',
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
    });
  }
}
