import type { Context, Next } from 'koa';
import { errors as oidcErrors } from 'oidc-provider';
import type { Logger } from '../logger.js';
import { AppError } from './errors.js';
import { renderPage, type PageDeps } from './page.js';

/** Maps what escapes a route to an AppError; anything unknown becomes INTERNAL. */
function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof oidcErrors.SessionNotFound) return new AppError('INTERACTION_EXPIRED', 400);
  const status = (err as { status?: number }).status;
  const type = (err as { type?: string }).type;
  if (status === 413 || type === 'entity.too.large') return new AppError('BODY_TOO_LARGE', 413);
  if (status === 415) return new AppError('BAD_REQUEST', 415);
  if (status === 404) return new AppError('NOT_FOUND', 404);
  if (status && status >= 400 && status < 500) return new AppError('BAD_REQUEST', status);
  return new AppError('INTERNAL', 500);
}

/**
 * One place turns errors into answers: an error page in the user's language, or JSON for API
 * callers. Stack traces go to the log only.
 */
export function errorHandler(deps: PageDeps & { logger: Logger }) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) throw new AppError('NOT_FOUND', 404);
    } catch (err) {
      const appError = toAppError(err);
      if (appError.status >= 500) deps.logger.error({ err, path: ctx.path }, 'request failed');
      else if (!(err instanceof AppError)) deps.logger.debug({ err: String(err), path: ctx.path }, 'request refused');
      if (ctx.accepts('html', 'json') === 'json') {
        ctx.status = appError.status;
        ctx.body = { error: appError.code };
        return;
      }
      renderPage(ctx, deps, 'pages/error', {
        title: 'errors.title',
        messageKey: `errors.${appError.code}`,
        params: appError.params,
      }, { status: appError.status });
    }
  };
}
