import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';
import { formBody } from '../http/middleware.js';
import { verifyCsrf } from '../http/csrf.js';
import { seeOther } from '../http/page.js';
import { withLang } from '../http/url.js';
import { ACCOUNT_CLIENT_ID } from '../oidc/account-client.js';
import { abortInteraction, grantConsent, showConsent, submitConsent } from './consent.js';
import type { InteractionDeps } from './context.js';
import { currentInteraction, loadInteraction, type Interaction } from './interaction-state.js';
import { showEmailStep, submitEmail } from './email-step.js';
import { showPasswordStep, submitPassword } from './login.js';
import { emailChangeStep, resendEmailChangeCode, showEmailChange, submitEmailChangeCode } from './email-change.js';
import { passkeyLoginOptions, submitPasskeyLogin } from './passkey.js';
import { redirectsToResume, resumeHere } from './resume-here.js';
import { acceptOffer, declineOffer, offerStep, showOffer, snoozeOffer } from './passkey-offer.js';
import {
  chooseSetup,
  confirmTotpSetup,
  duoCallback,
  passkeyStepOptions,
  secondStep,
  showChallenge,
  showLoginRecoveryCodes,
  showSetup,
  showTotpSetup,
  startDuo,
  submitPasskeyStep,
  submitRecoveryCode,
  submitTotp,
} from './second-factor.js';

/** /interaction/:uid pages that oidc-provider sends the browser to (login, consent). */
export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const load = loadInteraction(deps.provider);
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];
  /**
   * A page of the interaction, read once per request by `load`. A step that finishes the
   * interaction answers with the resume's own answer (resume-here.ts).
   */
  const handle =
    (fn: (ctx: Context, deps: InteractionDeps, interaction: Interaction) => Promise<void>) =>
    async (ctx: Context, next: Next) => {
      const interaction = currentInteraction(ctx);
      await fn(ctx, deps, interaction);
      if (redirectsToResume(ctx, interaction)) await resumeHere(ctx, next, deps.provider, interaction);
    };

  router.get('/', load, async (ctx) => {
    const interaction = currentInteraction(ctx);
    switch (interaction.prompt.name) {
      case 'login':
        return showEmailStep(ctx, deps, interaction);
      case 'create':
        // prompt=create (OIDC Initiating User Registration 1.0): straight to sign-up, which comes
        // back to this login's password step once the account is activated. Without `?signup`
        // (sign-up's "back to login" link) it is the login's email step.
        if (ctx.query.signup !== undefined)
          return seeOther(ctx, withLang(ctx, '/signup', { interaction: interaction.uid }));
        return showEmailStep(ctx, deps, interaction);
      case 'consent':
        // The account console is Monban itself: nothing to ask.
        if (interaction.params.client_id === ACCOUNT_CLIENT_ID) return grantConsent(ctx, deps, interaction);
        return showConsent(ctx, deps, interaction);
      default:
        throw new AppError('INTERACTION_EXPIRED');
    }
  });
  router.post('/email', ...form, load, handle(submitEmail));
  router.get('/password', load, handle(showPasswordStep));
  // A passkey instead of the email and password (conditional UI or the button on the email step).
  router.post('/passkey/options', ...form, load, handle(passkeyLoginOptions));
  router.post('/passkey', ...form, load, handle(submitPasskeyLogin));
  router.post('/password', ...form, load, handle(submitPassword));
  // M4: an account held for an address change by its company enters the code from the new address.
  router.get('/email-change', load, handle(emailChangeStep(showEmailChange)));
  router.post('/email-change', ...form, load, handle(emailChangeStep(submitEmailChangeCode)));
  router.post('/email-change/resend', ...form, load, handle(emailChangeStep(resendEmailChangeCode)));
  // L3: the second factor, inside the same interaction.
  router.get('/mfa', load, handle(secondStep(showChallenge)));
  router.post('/mfa/totp', ...form, load, handle(secondStep(submitTotp)));
  router.post('/mfa/recovery', ...form, load, handle(secondStep(submitRecoveryCode)));
  router.post('/mfa/passkey/options', ...form, load, handle(secondStep(passkeyStepOptions)));
  router.post('/mfa/passkey', ...form, load, handle(secondStep(submitPasskeyStep)));
  router.post('/mfa/duo', ...form, load, handle(secondStep(startDuo)));
  router.get('/mfa/duo/callback', load, handle(secondStep(duoCallback)));
  router.get('/mfa/setup', load, handle(secondStep(showSetup)));
  router.post('/mfa/setup', ...form, load, handle(secondStep(chooseSetup)));
  router.get('/mfa/setup/totp', load, handle(secondStep(showTotpSetup)));
  router.post('/mfa/setup/totp', ...form, load, handle(secondStep(confirmTotpSetup)));
  router.get('/mfa/codes', load, handle(showLoginRecoveryCodes));
  // Issue 17's upgrade prompt: a passkey offered after a password login.
  router.get('/passkey-offer', load, handle(offerStep(showOffer)));
  router.post('/passkey-offer', ...form, load, handle(offerStep(acceptOffer)));
  router.post('/passkey-offer/later', ...form, load, handle(offerStep(snoozeOffer)));
  router.post('/passkey-offer/never', ...form, load, handle(offerStep(declineOffer)));
  router.post('/confirm', ...form, load, handle(submitConsent));
  router.post('/abort', ...form, load, handle(abortInteraction));
  return router;
}
