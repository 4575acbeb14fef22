import type { Context, Next } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import { AppError, isOutage, type ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import { renderPage, type PageDeps } from './page.js';

/** Maps what escapes a route to an AppError; anything unknown becomes INTERNAL. */
function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof oidcErrors.SessionNotFound) return new AppError('INTERACTION_EXPIRED');
  if (isOutage(err)) return new AppError('UNAVAILABLE');
  const { status, type } = err as { status?: unknown; type?: unknown };
  if (status === 413 || type === 'entity.too.large') return new AppError('BODY_TOO_LARGE');
  if (status === 415) return new AppError('UNSUPPORTED_MEDIA_TYPE');
  if (status === 404) return new AppError('NOT_FOUND');
  if (typeof status === 'number' && status >= 400 && status < 500) return new AppError('BAD_REQUEST');
  return new AppError('INTERNAL');
}

/** What an error says to its reader: its own code when it may be shown, else INTERNAL's. */
export function shownCode(error: AppError): ErrorCode {
  return error.expose ? error.code : 'INTERNAL';
}

/**
 * The JSON answer for API callers: the stable code. Issue 14's admin API will answer RFC 9457
 * problem+json built from the same code and status here.
 */
export function errorJson(error: AppError): Record<string, unknown> {
  return { error: shownCode(error) };
}

/**
 * One place turns errors into answers: an error page in the user's language, or JSON for API
 * callers, with the status the error catalogue (src/errors.ts) gives the code. Stack traces go
 * to the log only.
 */
export function errorHandler(deps: PageDeps & { logger: Logger }) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError('NOT_FOUND');
    } catch (err) {
      const appError = toAppError(err);
      if (appError.code === 'UNAVAILABLE')
        deps.logger.warn({ err, path: ctx.path }, 'a store is unreachable: failed closed');
      else if (!appError.expose || appError.status >= 500) deps.logger.error({ err, path: ctx.path }, 'request failed');
      else if (!(err instanceof AppError)) deps.logger.debug({ err: String(err), path: ctx.path }, 'request refused');
      const reference = ctx.state.requestId as string | undefined;
      // An error page never redirects, even when the failure came after a redirect was decided
      // (a write held until the answer, pipelined-writes.ts): that Location may carry a code.
      ctx.remove('Location');
      if (ctx.accepts('html', 'json') === 'json') {
        ctx.status = appError.status;
        // The reference travels in the X-Request-Id header; the body stays the stable code.
        ctx.body = errorJson(appError);
        return;
      }
      renderPage(
        ctx,
        deps,
        'pages/error',
        {
          title: 'errors.title',
          messageKey: `errors.${shownCode(appError)}`,
          params: appError.expose ? appError.params : {},
          reference,
        },
        { status: appError.status },
      );
    }
  };
}
