import { mkdirSync, writeFileSync } from 'node:fs';
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
