import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface CaughtMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  raw: ParsedMail;
}

/**
 * A real SMTP server on loopback that keeps what it receives. Monban's courier talks to it
 * through nodemailer exactly as it would to a production relay.
 */
export class MailCatcher {
  readonly mails: CaughtMail[] = [];
  #server: SMTPServer | undefined;
  #waiters: (() => void)[] = [];
  port = 0;

  /** Starts on a free port, or on `port` (to bring a stopped catcher back on the same address). */
  async start(port = 0): Promise<this> {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, _session, callback) => {
        simpleParser(stream).then((parsed) => {
          const to = Array.isArray(parsed.to) ? (parsed.to[0]?.text ?? '') : (parsed.to?.text ?? '');
          this.mails.push({
            to,
            subject: parsed.subject ?? '',
            text: parsed.text ?? '',
            html: typeof parsed.html === 'string' ? parsed.html : '',
            raw: parsed,
          });
          for (const wake of this.#waiters.splice(0)) wake();
          callback();
        }, callback);
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.#server!.once('error', reject);
      this.#server!.listen(port, '127.0.0.1', () => resolve());
    });
    // A sender that dies in the middle of a mail (a test that kills a Monban process) resets its
    // connection, which smtp-server reports as an 'error' event: a relay shrugs that off, and so
    // does the catcher, instead of failing the whole test file with an unhandled ECONNRESET.
    this.#server.on('error', () => undefined);
    this.port = (this.#server.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Waits (up to `timeoutMs`) for a mail to `to` that satisfies `match`, and returns it. */
  async waitFor(
    to: string,
    match: (mail: CaughtMail) => boolean = () => true,
    timeoutMs = 15_000,
  ): Promise<CaughtMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.mails.find((mail) => mail.to.toLowerCase().includes(to.toLowerCase()) && match(mail));
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no mail to ${to} within ${timeoutMs} ms (have: ${this.mails.map((m) => `${m.to}: ${m.subject}`).join('; ') || 'none'})`,
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

  mailsTo(to: string): CaughtMail[] {
    return this.mails.filter((mail) => mail.to.toLowerCase().includes(to.toLowerCase()));
  }
}

/**
 * The code in a mail: the line that holds only the code (as every code mail sets it), else the
 * first run of 6 or more digits. Not simply the first run: an address shown above the code may
 * hold one (a random hex tag such as "kuro-20394811@...").
 */
export function codeIn(mail: CaughtMail): string {
  const code = mail.text.match(/^\s*(\d{6,10})\s*$/m)?.[1] ?? mail.text.match(/\b(\d{6,10})\b/)?.[1];
  if (!code) throw new Error(`no code in mail "${mail.subject}"`);
  return code;
}
