import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { currentRequestId, currentTraceIds } from './observability/request-context.js';

export type { Logger };

/**
 * JSON lines on stdout. Anything that looks like a credential is redacted by key, so a stray
 * object in a log call cannot leak a password, code or secret.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'monban' },
    // Every line logged while a request is served carries its id (x-request-id), whoever logs it,
    // and with tracing on the trace and span ids, to find the line from a trace and back.
    mixin() {
      const reqId = currentRequestId();
      const traceIds = currentTraceIds();
      return { ...(reqId ? { reqId } : {}), ...traceIds };
    },
    redact: {
      paths: [
        'password',
        '*.password',
        'secret',
        '*.secret',
        'client_secret',
        '*.client_secret',
        'code',
        '*.code',
        'token',
        '*.token',
        'req.headers.authorization',
        'req.headers.cookie',
      ],
      censor: '[redacted]',
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
