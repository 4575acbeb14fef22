import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../errors.js';
import { formBody } from '../../http/middleware.js';
import { errorMessage, renderPage, type PageDeps } from '../../http/page.js';
import { unlockWithToken, type AccountLockDeps } from '../../identity/accounts/lock.js';
import { z } from 'zod';
import { parseForm, text } from '../../http/form.js';
import { verifyCsrf } from '../../http/csrf.js';
import { requestMeta } from '../../http/request-meta.js';
import { withParams } from '../../text/views.js';

export type UnlockDeps = PageDeps & Pick<AccountLockDeps, 'db' | 'credentialThrottle'>;

function renderUnlock(
  ctx: Context,
  deps: UnlockDeps,
  data: { token?: string; unlocked?: boolean },
  error?: AppError,
): void {
  ctx.set('cache-control', 'no-store');
  renderPage(
    ctx,
    deps,
    'unlock/unlock',
    { title: 'unlock.title', ...data, ...errorMessage(error) },
    {
      status: error?.status ?? 200,
      form: !data.unlocked,
      languagePath: data.unlocked ? '/unlock?unlocked=1' : withParams('/unlock', { token: data.token }),
    },
  );
}

/** The unlock button's form: the token from the mailed link. */
const unlockForm = z.object({ token: text(64) });

/**
 * The link mailed to the owner of a locked account (src/identity/accounts/lock.ts). Opening it
 * only shows a button: mail scanners open links too, and must not unlock anything.
 */
export function unlockRoutes(deps: UnlockDeps): Router {
  const router = new Router({ prefix: '/unlock' });

  router.get('/', (ctx) => {
    // ?unlocked=1 is where the language menu of the "unlocked" page leads; it only says so.
    if (ctx.query.unlocked !== undefined) return renderUnlock(ctx, deps, { unlocked: true });
    renderUnlock(ctx, deps, { token: typeof ctx.query.token === 'string' ? ctx.query.token.slice(0, 64) : '' });
  });

  router.post('/', formBody(deps.config.bodyLimitBytes), verifyCsrf, async (ctx) => {
    const { token } = parseForm(ctx, unlockForm);
    if (await unlockWithToken(deps, token, requestMeta(ctx, deps.config))) renderUnlock(ctx, deps, { unlocked: true });
    else renderUnlock(ctx, deps, { token }, new AppError('UNLOCK_LINK_INVALID'));
  });

  return router;
}
