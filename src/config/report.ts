import type { Config } from './schema.js';

const SECRET_KEY = /secret|password|token|pepper/i;
const MASK = '********';

/** A copy of the config fit to print: secret values masked, passwords in URLs masked. */
export function maskSecrets(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => maskSecrets(item, key));
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)]));
  if (typeof value !== 'string') return value;
  if (SECRET_KEY.test(key)) return MASK;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      const url = new URL(value);
      if (url.password) {
        url.password = MASK;
        return url.toString();
      }
    } catch {
      return value;
    }
  }
  return value;
}

/**
 * What a production start should not run on: the development defaults that make `npm start`
 * work with nothing installed. Each is a sentence for the log; none stops the start.
 */
export function developmentDefaultWarnings(config: Readonly<Config>, env: NodeJS.ProcessEnv): string[] {
  if (env.NODE_ENV !== 'production') return [];
  const warnings: string[] = [];
  if (!config.issuer.startsWith('https://'))
    warnings.push(`ISSUER is ${config.issuer}: production needs an https issuer (cookies are not Secure on http)`);
  if (!config.databaseUrl)
    warnings.push('no DATABASE_URL: the embedded database serves one process only and is meant for development');
  if (config.support.email === 'support@example.com')
    warnings.push('SUPPORT_EMAIL is the default support@example.com: pages and mails show it to users');
  if (!config.mail.smtpUrl) warnings.push('no SMTP_URL: mails are written to files under the data folder, not sent');
  if (!config.sms.baseUrl) warnings.push('no SMS_BASE_URL: text messages are written to files, not sent');
  if (/@localhost>?$/.test(config.mail.from))
    warnings.push(`MAIL_FROM is ${config.mail.from}: set your sender address`);
  return warnings;
}
