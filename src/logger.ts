import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * JSON lines on stdout. Anything that looks like a credential is redacted by key, so a stray
 * object in a log call cannot leak a password, code or secret.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'monban' },
    redact: {
      paths: [
        'password', '*.password', 'secret', '*.secret', 'client_secret', '*.client_secret',
        'code', '*.code', 'token', '*.token', 'req.headers.authorization', 'req.headers.cookie',
      ],
      censor: '[redacted]',
    },
  });
}
