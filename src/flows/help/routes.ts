import Router from '@koa/router';
import { renderPage, type PageDeps } from '../../http/page.js';

/**
 * L4/C5: help for logging in and the support contact. /recovery is where "Forgot password?"
 * points; until self-service reset exists it tells the user how support resets a password.
 */
export function helpRoutes(deps: PageDeps): Router {
  const router = new Router();
  router.get('/help', (ctx) => renderPage(ctx, deps, 'pages/help', { title: 'help.title' }));
  router.get('/recovery', (ctx) => renderPage(ctx, deps, 'pages/recovery', { title: 'recovery.title' }));
  return router;
}
