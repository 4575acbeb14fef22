/**
 * A TLS-terminating reverse proxy on loopback, as in production: HTTPS outside (a self-signed
 * certificate for 127.0.0.1 that test clients trust), plain HTTP to Monban inside, with the
 * client's address appended to X-Forwarded-For and X-Forwarded-Proto: https.
 */
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { selfSignedCertificate } from './certificate.js';

export class TlsProxy {
  readonly #cert = selfSignedCertificate();
  #server?: Server;

  constructor(readonly port: number) {}

  /** The PEM certificate clients must trust. */
  get certificate(): string {
    return this.#cert.cert;
  }

  get origin(): string {
    return `https://127.0.0.1:${String(this.port)}`;
  }

  /** Starts forwarding to http://127.0.0.1:`targetPort`. */
  async start(targetPort: number): Promise<this> {
    this.#server = createServer({ key: this.#cert.key, cert: this.#cert.cert }, (req, res) => {
      const forwardedFor = [req.headers['x-forwarded-for'], req.socket.remoteAddress].filter(Boolean).join(', ');
      const upstream = httpRequest(
        {
          host: '127.0.0.1',
          port: targetPort,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, 'x-forwarded-for': forwardedFor, 'x-forwarded-proto': 'https' },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => {
        res.writeHead(502).end();
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => this.#server!.listen(this.port, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
