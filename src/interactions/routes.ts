import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../http/errors.js';
import { formBody } from '../http/middleware.js';
import { verifyCsrf } from '../security/csrf.js';
import { ACCOUNT_CLIENT_ID } from '../oidc/account-client.js';
import { abortInteraction, grantConsent, showConsent, submitConsent } from './consent.js';
import type { InteractionDeps } from './context.js';
import { showEmailStep, showPasswordStep, submitEmail, submitPassword } from './login.js';
import {
  chooseSetup, confirmTotpSetup, duoCallback, secondStep, showChallenge, showSetup, showTotpSetup, startDuo,
  submitRecoveryCode, submitTotp,
} from './second-factor.js';

/** /interaction/:uid pages that oidc-provider sends the browser to (login, consent). */
export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];
  const handle = (fn: (ctx: Context, deps: InteractionDeps) => Promise<void>) =>
    (ctx: Context, _next: Next) => fn(ctx, deps);

  router.get('/', async (ctx) => {
    const interaction = await deps.provider.interactionDetails(ctx.req, ctx.res);
    if (interaction.uid !== ctx.params.uid) throw new AppError('INTERACTION_EXPIRED', 400);
    switch (interaction.prompt.name) {
      case 'login': return showEmailStep(ctx, deps, interaction);
      case 'consent':
        // The account console is Monban itself: nothing to ask.
        if (interaction.params.client_id === ACCOUNT_CLIENT_ID) return grantConsent(ctx, deps, interaction);
        return showConsent(ctx, deps, interaction);
      default: throw new AppError('INTERACTION_EXPIRED', 400);
    }
  });
  router.post('/email', ...form, handle(submitEmail));
  router.get('/password', handle(showPasswordStep));
  router.post('/password', ...form, handle(submitPassword));
  // L3: the second factor, inside the same interaction.
  router.get('/mfa', handle(secondStep(showChallenge)));
  router.post('/mfa/totp', ...form, handle(secondStep(submitTotp)));
  router.post('/mfa/recovery', ...form, handle(secondStep(submitRecoveryCode)));
  router.post('/mfa/duo', ...form, handle(secondStep(startDuo)));
  router.get('/mfa/duo/callback', handle(secondStep(duoCallback)));
  router.get('/mfa/setup', handle(secondStep(showSetup)));
  router.post('/mfa/setup', ...form, handle(secondStep(chooseSetup)));
  router.get('/mfa/setup/totp', handle(secondStep(showTotpSetup)));
  router.post('/mfa/setup/totp', ...form, handle(secondStep(confirmTotpSetup)));
  router.post('/confirm', ...form, handle(submitConsent));
  router.post('/abort', ...form, handle(abortInteraction));
  return router;
}
