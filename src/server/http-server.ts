import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

export interface DrainOptions {
  /** Keep serving new requests this long after readiness turned 503 (load balancers notice). */
  delayMs: number;
  /** Then give running requests this long to finish before their connections are closed. */
  graceMs: number;
}

export interface DrainResult {
  /** Requests still running when the grace period ended (their connections were cut). */
  cut: number;
}

/**
 * The HTTP listener with graceful draining. Draining first only flips `draining` (readiness
 * answers 503, every response says `Connection: close` so keep-alive clients reconnect
 * elsewhere), then stops accepting, closes idle connections, waits for running requests, and
 * closes whatever is left when the grace period ends.
 */
export class HttpServer {
  readonly server: Server;
  private running = 0;
  private state: 'serving' | 'draining' | 'closed' = 'serving';

  constructor(listener: RequestListener, options: { keepAliveTimeoutMs?: number } = {}) {
    this.server = createServer((req, res) => {
      this.running += 1;
      res.once('close', () => {
        this.running -= 1;
      });
      // Decided when the headers go out, so a request that began before draining also closes.
      const writeHead = res.writeHead.bind(res);
      res.writeHead = ((...args: Parameters<typeof writeHead>) => {
        if (this.state !== 'serving') res.setHeader('connection', 'close');
        return writeHead(...args);
      }) as ServerResponse['writeHead'];
      listener(req, res);
    });
    this.server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5000;
  }

  get draining(): boolean {
    return this.state !== 'serving';
  }

  /** Requests being answered right now. */
  get inFlight(): number {
    return this.running;
  }

  listen(port: number, host?: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      const ready = () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      };
      if (host) this.server.listen(port, host, ready);
      else this.server.listen(port, ready);
    });
  }

  async drain({ delayMs, graceMs }: DrainOptions): Promise<DrainResult> {
    if (this.state === 'closed') return { cut: 0 };
    this.state = 'draining';
    if (delayMs > 0) await sleep(delayMs);
    const closed = this.server.listening
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    this.server.closeIdleConnections();
    const deadline = Date.now() + graceMs;
    while (this.running > 0 && Date.now() < deadline) {
      await sleep(25);
      // A keep-alive connection whose request just ended is idle now: close it.
      this.server.closeIdleConnections();
    }
    const cut = this.running;
    this.server.closeAllConnections();
    await closed;
    this.state = 'closed';
    return { cut };
  }
}
