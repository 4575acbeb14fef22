import Router from '@koa/router';
import { renderPage, type PageDeps } from '../../http/page.js';

/** L4/C5: how to log in, trouble logging in, changing the email address, and the support contact. */
export function helpRoutes(deps: PageDeps): Router {
  const router = new Router();
  router.get('/help', (ctx) =>
    renderPage(ctx, deps, 'pages/help', { title: 'help.title', policy: deps.config.passwordPolicy }),
  );
  return router;
}
