import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError, FormError } from '../../errors.js';
import { verifyCsrf } from '../../http/csrf.js';
import { z } from 'zod';
import { parseForm, text } from '../../http/form.js';
import { negotiateLocale } from '../../http/locale.js';
import { formBody } from '../../http/middleware.js';
import { seeOther } from '../../http/page.js';
import { requestMeta } from '../../http/request-meta.js';
import { callingCodeOptions } from '../../identity/accounts/phone.js';
import { flowPages } from '../flow-pages.js';
import { requireSignIn } from '../settings/auth.js';
import { signedIn, type SettingsDeps } from '../settings/context.js';
import { confirmPassword, reauthForm } from '../settings/reauth.js';
import { done, handleForm, renderAccountPage } from '../settings/render.js';
import { showSecurity } from '../settings/security.js';
import { confirmPhoneNumber, removePhoneNumber, startPhoneVerification } from './service.js';
import { PhoneVerificationFlow } from './state.js';

/** Step 1: the password, then the number (its country calling code and the national part). */
const phoneForm = reauthForm.extend({ country: text(100), number: text(100) });
/** Step 2: the code from the text message. */
const codeForm = z.object({ code: text(64) });

const PATH = '/account/security/phone';

/** The number form (the flow's first page), behind the password like every security change. */
function showPhoneForm(
  ctx: Context,
  deps: SettingsDeps,
  values: { country?: string; number?: string } = {},
  error?: AppError | FormError,
  status?: number,
): void {
  const { account } = signedIn(ctx);
  const { allowedCountries } = deps.config.sms;
  const preferred = values.country ?? account.country ?? 'JP';
  const country = allowedCountries.includes(preferred) ? preferred : allowedCountries[0];
  renderAccountPage(
    ctx,
    deps,
    'account/phone',
    'security',
    {
      values: { number: values.number ?? '' },
      countries: callingCodeOptions(negotiateLocale(ctx, deps.config.locales), allowedCountries).map((c) => ({
        ...c,
        selected: c.code === country,
      })),
    },
    error,
    status,
  );
}

/** /account/security/phone: a mobile number confirmed by SMS (PR6), and removing it. */
export function phoneVerificationRoutes(deps: SettingsDeps): Router {
  const router = new Router({ prefix: PATH });
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];
  const pages = flowPages(deps, {
    flow: PhoneVerificationFlow,
    cookie: 'monban_phone',
    path: '/account',
    owns: (ctx, flow) => flow.accountId === signedIn(ctx).account.id,
    // The number form again (200), saying the earlier confirmation is over.
    restart: (ctx, notice) => showPhoneForm(ctx, deps, {}, notice, 200),
  });
  router.use(requireSignIn(deps), pages.restartExpired);

  const showVerify = (ctx: Context, error?: AppError) => {
    renderAccountPage(
      ctx,
      deps,
      'account/phone-verify',
      'security',
      { phone: pages.current(ctx).context.phone, digits: deps.config.codes.digits },
      error,
    );
  };

  router.get('/', (ctx) => {
    showPhoneForm(ctx, deps);
  });

  // Step 1: password, country code and number; a code goes to the number by SMS.
  router.post('/', ...form, async (ctx) => {
    const current = signedIn(ctx);
    const { current_password: currentPassword, ...values } = parseForm(ctx, phoneForm);
    await handleForm(
      ctx,
      async () => {
        await confirmPassword(ctx, deps, current, currentPassword);
        const meta = requestMeta(ctx, deps.config);
        pages.setCookie(ctx, await startPhoneVerification(deps, current.account, values, meta));
        seeOther(ctx, `${PATH}/verify`);
      },
      (error) => {
        showPhoneForm(ctx, deps, values, error);
      },
    );
  });

  router.get('/verify', pages.load, (ctx) => {
    showVerify(ctx);
  });

  // Step 2: the code from the SMS.
  router.post('/verify', ...form, pages.load, async (ctx) => {
    try {
      const { code } = parseForm(ctx, codeForm);
      await confirmPhoneNumber(deps, pages.current(ctx), signedIn(ctx).account, code, requestMeta(ctx, deps.config));
    } catch (err) {
      if (!(err instanceof AppError) || err.code === 'FLOW_EXPIRED') throw err;
      return showVerify(ctx, err);
    }
    pages.setCookie(ctx, null);
    done(ctx, '/account/security', 'phone-added');
  });

  // Switching the number off re-confirms the password.
  router.post('/remove', ...form, async (ctx) => {
    const current = signedIn(ctx);
    await handleForm(
      ctx,
      async () => {
        await confirmPassword(ctx, deps, current, parseForm(ctx, reauthForm).current_password, 'REAUTH_REQUIRED');
        await removePhoneNumber(deps, current.account, requestMeta(ctx, deps.config));
        done(ctx, '/account/security', 'phone-removed');
      },
      (error) => showSecurity(ctx, deps, error),
    );
  });

  return router;
}
