import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError, FormError } from '../../errors.js';
import { verifyCsrf } from '../../http/csrf.js';
import { z } from 'zod';
import { choice, parseForm, password, text } from '../../http/form.js';
import { negotiateLocale } from '../../http/locale.js';
import { formBody } from '../../http/middleware.js';
import {
  errorList,
  errorMessage,
  renderPage,
  seeOther,
  setNotice,
  setSignedCookie,
  takeSignedJson,
  type PageDeps,
} from '../../http/page.js';
import { requestMeta } from '../../http/request-meta.js';
import { deviceCookie } from '../../http/device-cookie.js';
import { withLang } from '../../http/url.js';
import { withParams } from '../../text/views.js';
import { callingCodeOptions } from '../../identity/accounts/phone.js';
import type { DuoHandshake } from '../../identity/factors/duo-handshake.js';
import { flowPages } from '../flow-pages.js';
import { codeMinutes } from '../kernel/codes.js';
import { continueLoginAs, openLogin, type OpenLogin } from '../login-link.js';
import {
  passRecoveryDuo,
  passRecoverySecondFactor,
  resetPassword,
  secondFactorOf,
  sendRecoveryCode,
  startRecovery,
  startRecoveryDuo,
  verifyResetCode,
  type RecoveryDeps,
  type RecoveryFlowRecord,
} from './service.js';
import { RecoveryFlow, type RecoveryChannel, type RecoveryState } from './state.js';

export interface RecoveryRouteDeps extends PageDeps, RecoveryDeps {
  provider: Provider;
  duo: DuoHandshake;
}

const PATH = '/recovery';
// The trip to Duo (duo-handshake's PendingDuo), bound to this browser's reset.
const DUO_STATE_COOKIE = 'monban_recovery_duo';

/** The page that belongs to each state: a reset is always shown at the step it stands at. */
const STEP_PATH: Partial<Record<RecoveryState, string>> = {
  awaiting_channel: `${PATH}/method`,
  awaiting_code: `${PATH}/code`,
  awaiting_second_factor: `${PATH}/second-factor`,
  awaiting_password: `${PATH}/password`,
};

/** The reset a step page shows, and the RP's login it came from. */
interface Step {
  flow: RecoveryFlowRecord;
  login: OpenLogin | undefined;
}

function renderStart(
  ctx: Context,
  deps: RecoveryRouteDeps,
  values: { email?: string },
  login: OpenLogin | undefined,
  error?: AppError,
  status = error?.status ?? 200,
): void {
  renderPage(
    ctx,
    deps,
    'recovery/start',
    {
      title: 'recovery.title',
      email: values.email ?? '',
      interaction: login?.uid,
      ...errorMessage(error),
    },
    {
      status,
      uiLocales: login?.uiLocales,
      form: true,
      languagePath: withParams(PATH, { interaction: login?.uid }),
    },
  );
}

function renderStep(
  ctx: Context,
  deps: RecoveryRouteDeps,
  view: string,
  step: Step,
  data: Record<string, unknown>,
  error?: AppError | FormError,
  languagePath?: string,
): void {
  renderPage(
    ctx,
    deps,
    view,
    {
      title: 'recovery.title',
      email: step.flow.email,
      ...errorMessage(error instanceof AppError ? error : undefined),
      errors: error instanceof FormError ? errorList(error) : [],
      ...data,
    },
    { status: error?.status ?? 200, uiLocales: step.login?.uiLocales, form: true, languagePath },
  );
}

/** A refusal to show on the page; anything else, an ended reset included, goes up. */
function refusalOf(err: unknown): AppError {
  if (err instanceof AppError && err.code !== 'FLOW_EXPIRED') return err;
  throw err;
}

function renderMethod(
  ctx: Context,
  deps: RecoveryRouteDeps,
  step: Step,
  values: { channel: RecoveryChannel; country: string; number: string },
  error?: AppError,
): void {
  const locale = negotiateLocale(ctx, deps.config.locales, step.login?.uiLocales);
  renderStep(
    ctx,
    deps,
    'recovery/method',
    step,
    {
      values,
      sms: values.channel === 'sms',
      countries: callingCodeOptions(locale, deps.config.sms.allowedCountries).map((c) => ({
        ...c,
        selected: c.code === values.country,
      })),
    },
    error,
    withParams(`${PATH}/method`, { channel: values.channel === 'sms' ? 'sms' : undefined }),
  );
}

function renderCode(ctx: Context, deps: RecoveryRouteDeps, step: Step, error?: AppError): void {
  renderStep(
    ctx,
    deps,
    'recovery/code',
    step,
    {
      sms: step.flow.context.channel === 'sms',
      maskedPhone: step.flow.context.maskedPhone,
      digits: deps.config.codes.digits,
      minutes: codeMinutes(deps.config.codes),
      sent: ctx.query.sent !== undefined,
    },
    error,
    `${PATH}/code`,
  );
}

async function renderSecondFactor(ctx: Context, deps: RecoveryRouteDeps, step: Step, error?: AppError): Promise<void> {
  const { factor } = await secondFactorOf(deps, step.flow);
  const base = `${PATH}/second-factor`;
  const recovery =
    ctx.query.recovery !== undefined || error?.code === 'RECOVERY_CODE_WRONG' || error?.code === 'DUO_UNAVAILABLE';
  renderStep(
    ctx,
    deps,
    'recovery/second-factor',
    step,
    { base, totp: factor.kind === 'totp', duo: factor.kind === 'duo', recovery },
    error,
    recovery ? `${base}?recovery=1` : base,
  );
}

function renderPassword(ctx: Context, deps: RecoveryRouteDeps, step: Step, error?: FormError | AppError): void {
  const codes = error instanceof FormError ? error.codes : [];
  renderStep(
    ctx,
    deps,
    'recovery/password',
    step,
    {
      invalid: {
        password: codes.some((c) => c !== 'PASSWORD_MISMATCH'),
        confirmation: codes.includes('PASSWORD_MISMATCH'),
      },
      policy: JSON.stringify(deps.policy.checklist()),
      policyValues: deps.policy.checklist(),
      checklistEmail: step.flow.email,
    },
    error,
  );
}

/** R1: the address (and the RP's login it came from). */
const startForm = z.object({ interaction: text(200), email: text(1000) });
/** R2/R3: mail, or a text to the number typed. */
const methodForm = z.object({
  channel: choice(['email', 'sms'], 'email'),
  country: text(2),
  number: text(40),
});
/** The code from the mail or text message, or the authenticator's (R4). */
const codeForm = z.object({ code: text(64) });
/** R4: a recovery code instead of the second factor. */
const recoveryCodeForm = z.object({ recovery_code: text(64) });
/** The new password, twice. */
const passwordForm = z.object({ password: password(), password_confirmation: password() });

const duoCallbackUrl = (deps: RecoveryRouteDeps) => `${deps.config.issuer}${PATH}/duo/callback`;

/** R1-R5: forgot password, from the address to a new password. */
export function recoveryRoutes(deps: RecoveryRouteDeps): Router {
  const router = new Router();
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];
  const pages = flowPages(deps, {
    flow: RecoveryFlow,
    cookie: 'monban_recovery',
    path: PATH,
    // The first page again (200), with the reason and for the same login.
    restart: (ctx, notice, login) => renderStart(ctx, deps, {}, login, notice, 200),
  });
  router.use(pages.restartExpired);

  /** A step page: this browser's reset, in one of `states` (else sent to the page of its state). */
  const at = (...states: RecoveryState[]) => [pages.load, pages.requireState(states, STEP_PATH)];
  const stepOf = async (ctx: Context): Promise<Step> => ({ flow: pages.current(ctx), login: await pages.login(ctx) });
  const meta = async (ctx: Context) => requestMeta(ctx, deps.config, (await pages.login(ctx))?.uiLocales);

  /**
   * The password is reset: back to the login the user came from, at the password step with the
   * address filled in, or to the account console's login. Either way they log in again.
   */
  const finish = async (ctx: Context, email: string, login: OpenLogin | undefined): Promise<void> => {
    pages.setCookie(ctx, null);
    if (login) {
      await continueLoginAs(login, email);
      return seeOther(ctx, withLang(ctx, `/interaction/${login.uid}/password`, { reset: '1' }));
    }
    setNotice(ctx, deps.config, 'password_changed');
    seeOther(ctx, '/account/login');
  };

  router.get(PATH, async (ctx) => {
    renderStart(ctx, deps, {}, await openLogin(deps, ctx.query.interaction));
  });

  // "Forgot password?" on the password step: the address typed in step 1 is filled in.
  router.get('/interaction/:uid/forgot-password', async (ctx) => {
    const login = await openLogin(deps, ctx.params.uid);
    renderStart(ctx, deps, { email: login?.email }, login);
  });

  router.post(PATH, ...form, async (ctx) => {
    const { interaction, email } = parseForm(ctx, startForm);
    const login = await openLogin(deps, interaction);
    try {
      const flowId = await startRecovery(
        deps,
        { email, interaction: login?.uid, previous: pages.cookieId(ctx) },
        requestMeta(ctx, deps.config, login?.uiLocales),
      );
      pages.setCookie(ctx, flowId);
      seeOther(ctx, withLang(ctx, `${PATH}/method`));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      renderStart(ctx, deps, { email: email.slice(0, 254) }, login, err);
    }
  });

  // "Start again" (another address): the first page, for the same login.
  router.get(`${PATH}/restart`, async (ctx) => {
    const login = await pages.loginOfCookie(ctx);
    pages.setCookie(ctx, null);
    seeOther(ctx, withLang(ctx, PATH, { interaction: login?.uid }));
  });

  router.get(`${PATH}/method`, ...at('awaiting_channel', 'awaiting_code'), async (ctx) => {
    const channel = ctx.query.channel === 'sms' ? 'sms' : 'email';
    renderMethod(ctx, deps, await stepOf(ctx), { channel, country: 'JP', number: '' });
  });

  router.post(`${PATH}/method`, ...form, ...at('awaiting_channel', 'awaiting_code'), async (ctx) => {
    const values: { channel: RecoveryChannel; country: string; number: string } = parseForm(ctx, methodForm);
    try {
      await sendRecoveryCode(deps, pages.current(ctx), values.channel, await meta(ctx), values, deviceCookie(ctx));
      seeOther(ctx, withLang(ctx, `${PATH}/code`));
    } catch (err) {
      renderMethod(ctx, deps, await stepOf(ctx), values, refusalOf(err));
    }
  });

  router.get(`${PATH}/code`, ...at('awaiting_code'), async (ctx) => {
    renderCode(ctx, deps, await stepOf(ctx));
  });

  router.post(`${PATH}/code`, ...form, ...at('awaiting_code'), async (ctx) => {
    try {
      const { code } = parseForm(ctx, codeForm);
      const next = await verifyResetCode(deps, pages.current(ctx), code, await meta(ctx), deviceCookie(ctx));
      seeOther(ctx, withLang(ctx, STEP_PATH[next] ?? PATH));
    } catch (err) {
      renderCode(ctx, deps, await stepOf(ctx), refusalOf(err));
    }
  });

  // A new code by email at once; by SMS the number is asked again (it is not kept).
  router.post(`${PATH}/resend`, ...form, ...at('awaiting_code'), async (ctx) => {
    const flow = pages.current(ctx);
    if (flow.context.channel === 'sms') return seeOther(ctx, withLang(ctx, `${PATH}/method`, { channel: 'sms' }));
    try {
      await sendRecoveryCode(deps, flow, 'email', await meta(ctx), undefined, deviceCookie(ctx));
      seeOther(ctx, withLang(ctx, `${PATH}/code`, { sent: '1' }));
    } catch (err) {
      renderCode(ctx, deps, await stepOf(ctx), refusalOf(err));
    }
  });

  router.get(`${PATH}/second-factor`, ...at('awaiting_second_factor'), async (ctx) => {
    await renderSecondFactor(ctx, deps, await stepOf(ctx));
  });

  const proofRoute = (field: 'code' | 'recovery_code') => async (ctx: Context) => {
    const proof =
      field === 'code'
        ? { totp: parseForm(ctx, codeForm).code }
        : { recoveryCode: parseForm(ctx, recoveryCodeForm).recovery_code };
    try {
      await passRecoverySecondFactor(deps, pages.current(ctx), proof, await meta(ctx));
      seeOther(ctx, withLang(ctx, `${PATH}/password`));
    } catch (err) {
      await renderSecondFactor(ctx, deps, await stepOf(ctx), refusalOf(err));
    }
  };
  router.post(`${PATH}/second-factor/totp`, ...form, ...at('awaiting_second_factor'), proofRoute('code'));
  router.post(`${PATH}/second-factor/recovery`, ...form, ...at('awaiting_second_factor'), proofRoute('recovery_code'));

  router.post(`${PATH}/second-factor/duo`, ...form, ...at('awaiting_second_factor'), async (ctx) => {
    const flow = pages.current(ctx);
    try {
      const { url, pending } = await startRecoveryDuo(deps, deps.duo, flow, duoCallbackUrl(deps));
      setSignedCookie(ctx, deps.config, DUO_STATE_COOKIE, JSON.stringify(pending), {
        path: PATH,
        maxAgeMs: deps.config.mfa.stepSeconds * 1000,
      });
      seeOther(ctx, url);
    } catch (err) {
      await renderSecondFactor(ctx, deps, await stepOf(ctx), refusalOf(err));
    }
  });

  router.get(`${PATH}/duo/callback`, ...at('awaiting_second_factor'), async (ctx) => {
    const flow = pages.current(ctx);
    const kept = takeSignedJson(ctx, DUO_STATE_COOKIE, PATH);
    try {
      await passRecoveryDuo(deps, deps.duo, flow, duoCallbackUrl(deps), kept, ctx.query, await meta(ctx));
      seeOther(ctx, withLang(ctx, `${PATH}/password`));
    } catch (err) {
      await renderSecondFactor(ctx, deps, await stepOf(ctx), refusalOf(err));
    }
  });

  router.get(`${PATH}/password`, ...at('awaiting_password'), async (ctx) => {
    renderPassword(ctx, deps, await stepOf(ctx));
  });

  router.post(`${PATH}/password`, ...form, ...at('awaiting_password'), async (ctx) => {
    const step = await stepOf(ctx);
    try {
      const fields = parseForm(ctx, passwordForm);
      const done = await resetPassword(deps, step.flow, fields.password, fields.password_confirmation, await meta(ctx));
      await finish(ctx, done.email, step.login);
    } catch (err) {
      renderPassword(ctx, deps, step, err instanceof FormError ? err : refusalOf(err));
    }
  });

  return router;
}
