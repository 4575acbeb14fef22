import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../logger.js';

export interface RenderedMail {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface MailTransport {
  send(mail: RenderedMail, id: string): Promise<void>;
  close(): void;
}

/** Real SMTP through nodemailer (SMTP_URL). */
export function smtpTransport(url: string): MailTransport {
  const transporter: Transporter = nodemailer.createTransport(url);
  return {
    async send(mail) {
      await transporter.sendMail(mail);
    },
    close: () => transporter.close(),
  };
}

/**
 * The embedded default has no mail server: each message becomes an .eml file in <dataDir>/mail
 * (any mail program opens it) and one log line says where, so a local user can read a code.
 */
export function fileTransport(dir: string, logger: Logger): MailTransport {
  const transporter = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    async send(mail, id) {
      const info = await transporter.sendMail(mail);
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${id}.eml`);
      writeFileSync(file, info.message as Buffer, { mode: 0o600 });
      // The subject may hold a code: the log names only the file (X1: secrets never logged).
      logger.info({ file }, `mail written to ${file} (no SMTP_URL set)`);
    },
    close: () => transporter.close(),
  };
}

export interface RenderedSms {
  /** E.164, e.g. +819012345678. */
  to: string;
  /** A number, short code or alphanumeric sender id the provider accepts. */
  from: string;
  body: string;
}

export interface SmsTransport {
  send(sms: RenderedSms, id: string): Promise<void>;
  close(): void;
}

export interface TwilioSmsOptions {
  /** e.g. https://api.twilio.com, or any API that speaks the same Messages resource. */
  baseUrl: string;
  accountSid: string;
  authToken: string;
  timeoutMs?: number;
}

const SMS_TIMEOUT_MS = 10_000;

/** The provider's own words about a refusal: Twilio answers `{ code, message, more_info, status }`. */
async function providerError(res: Response): Promise<string> {
  let detail = '';
  if ((res.headers.get('content-type') ?? '').includes('json')) {
    try {
      const body = (await res.json()) as { code?: unknown; message?: unknown };
      const code = typeof body.code === 'number' || typeof body.code === 'string' ? String(body.code) : '';
      const message = typeof body.message === 'string' ? body.message.replace(/\s+/g, ' ').slice(0, 200) : '';
      detail = [code && `code ${code}`, message].filter(Boolean).join(': ');
    } catch {
      /* not JSON after all: the status says enough */
    }
  } else {
    await res.body?.cancel().catch(() => undefined);
  }
  return `SMS provider answered ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${detail ? ` (${detail})` : ''}`;
}

/**
 * A Twilio-compatible REST API (SMS_BASE_URL): POST {baseUrl}/2010-04-01/Accounts/{sid}/Messages.json,
 * form-encoded To/From/Body, HTTP basic auth. Any failure throws, so the courier retries with
 * backoff; error messages carry the status and the provider's error code, never the token.
 */
export function twilioSmsTransport(options: TwilioSmsOptions): SmsTransport {
  if (!options.accountSid || !options.authToken)
    throw new Error('the SMS provider needs an account SID and an auth token');
  const url = `${options.baseUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(options.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${options.accountSid}:${options.authToken}`).toString('base64')}`;
  const timeoutMs = options.timeoutMs ?? SMS_TIMEOUT_MS;
  const scrub = (text: string) => text.split(options.authToken).join('[redacted]');
  return {
    async send(sms) {
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: { authorization, accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ To: sms.to, From: sms.from, Body: sms.body }).toString(),
          // A redirect would carry the credentials elsewhere; the API never sends one.
          redirect: 'error',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (err) {
        const e = err as Error & { cause?: { code?: string; message?: string } };
        const reason =
          e.name === 'TimeoutError'
            ? `no answer within ${timeoutMs} ms`
            : e.cause?.message || e.cause?.code || e.message;
        // No cause attached: it may hold the request, with the credentials in it.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(scrub(`SMS provider unreachable: ${reason}`));
      }
      if (!res.ok) throw new Error(scrub(await providerError(res)));
      await res.body?.cancel().catch(() => undefined);
    },
    close: () => undefined,
  };
}

/**
 * The embedded default has no SMS provider: each text becomes a .txt file in <dataDir>/sms and one
 * log line says where (the body holds a code, so it is never logged).
 */
export function fileSmsTransport(dir: string, logger: Logger): SmsTransport {
  return {
    async send(sms, id) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${id}.txt`);
      await writeFile(file, `To: ${sms.to}\nFrom: ${sms.from}\n\n${sms.body}\n`, { mode: 0o600 });
      logger.info({ file }, `text message written to ${file} (no SMS_BASE_URL set)`);
    },
    close: () => undefined,
  };
}
