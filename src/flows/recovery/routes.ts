import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import { AppError, FormError } from '../../http/errors.js';
import { negotiateLocale } from '../../http/i18n.js';
import { formBody } from '../../http/middleware.js';
import { errorList, errorMessage, renderPage, seeOther, setNotice, setSignedCookie, takeSignedCookie, type PageDeps } from '../../http/page.js';
import { callingCodeOptions } from '../../identity/accounts/phone.js';
import type { DuoGateway } from '../../identity/factors/duo.js';
import { emailCookie, setEmailCookie } from '../../interactions/cookies.js';
import { formField } from '../../interactions/context.js';
import { verifyCsrf } from '../../security/csrf.js';
import { codeMinutes } from '../flow.js';
import { withLang } from '../../http/url.js';
import { openLogin, type OpenLogin } from '../login-link.js';
import {
  passRecoveryDuo, passRecoverySecondFactor, recoveryInteraction, recoveryProgress, recoverySecondFactorKind, resetPassword,
  sendRecoveryCode, startRecovery, startRecoveryDuo, verifyResetCode, type RecoveryDeps,
} from './service.js';
import { RecoveryState, type RecoveryChannel, type RecoveryContext } from './state.js';

export interface RecoveryRouteDeps extends PageDeps, RecoveryDeps {
  provider: Provider;
  duo: DuoGateway;
}

const PATH = '/recovery';
const FLOW_COOKIE = 'monban_recovery';
// The state sent to Duo, bound to this browser's reset.
const DUO_STATE_COOKIE = 'monban_recovery_duo';

/** The page that belongs to each state: a reset is always shown at the step it stands at. */
const STEP_PATH: Partial<Record<RecoveryState, string>> = {
  [RecoveryState.awaitingChannel]: `${PATH}/method`,
  [RecoveryState.awaitingCode]: `${PATH}/code`,
  [RecoveryState.awaitingSecondFactor]: `${PATH}/second-factor`,
  [RecoveryState.awaitingPassword]: `${PATH}/password`,
};

interface Progress {
  flowId: string;
  state: RecoveryState;
  email: string;
  context: RecoveryContext;
  login: OpenLogin | undefined;
}

function setFlowCookie(ctx: Context, deps: RecoveryRouteDeps, flowId: string | null): void {
  setSignedCookie(ctx, deps.config, FLOW_COOKIE, flowId, { path: PATH, maxAgeMs: deps.config.recovery.flowTtlSeconds * 1000 });
}

async function progressOf(ctx: Context, deps: RecoveryRouteDeps): Promise<Progress | undefined> {
  const flowId = ctx.cookies.get(FLOW_COOKIE, { signed: true });
  const found = flowId ? await recoveryProgress(deps, flowId) : undefined;
  return found && { flowId: flowId!, ...found, login: await openLogin(deps, found.context.interaction) };
}

/** The login of this browser's reset, also once it ended (superseded, finished): starting over keeps it. */
async function loginOfFlow(ctx: Context, deps: RecoveryRouteDeps): Promise<OpenLogin | undefined> {
  const flowId = ctx.cookies.get(FLOW_COOKIE, { signed: true });
  return openLogin(deps, (flowId && await recoveryInteraction(deps, flowId)) || ctx.query.interaction);
}

function renderStart(ctx: Context, deps: RecoveryRouteDeps, values: { email?: string; interaction?: string | undefined },
  login: OpenLogin | undefined, error?: AppError): void {
  renderPage(ctx, deps, 'recovery/start', {
    title: 'recovery.title',
    email: values.email ?? '',
    interaction: login?.uid,
    ...errorMessage(error),
  }, { status: error?.status ?? 200, uiLocales: login?.uiLocales, form: true });
}

function renderStep(ctx: Context, deps: RecoveryRouteDeps, view: string, progress: Progress,
  data: Record<string, unknown>, error?: AppError | FormError): void {
  ctx.set('cache-control', 'no-store');
  renderPage(ctx, deps, view, {
    title: 'recovery.title',
    email: progress.email,
    ...errorMessage(error instanceof AppError ? error : undefined),
    errors: error instanceof FormError ? errorList(error) : [],
    ...data,
  }, { status: error?.status ?? 200, uiLocales: progress.login?.uiLocales, form: true });
}

/** An expired, finished or superseded reset starts over, with a message when it was cut short. */
function restart(ctx: Context, deps: RecoveryRouteDeps, login: OpenLogin | undefined, expired: boolean): void {
  setFlowCookie(ctx, deps, null);
  renderStart(ctx, deps, { interaction: login?.uid }, login, expired ? new AppError('RESET_EXPIRED') : undefined);
}

/** A refusal to show on the page; anything else, an ended reset included, goes up. */
function refusalOf(err: unknown): AppError {
  if (err instanceof AppError && err.code !== 'FLOW_EXPIRED') return err;
  throw err;
}

type StepHandler = (ctx: Context, progress: Progress) => Promise<void>;

/**
 * Every page after the first: the browser's reset, at the state the page is for. Elsewhere the
 * browser is sent to the page of the state the reset is in. FLOW_EXPIRED from the service (the
 * reset ended or was superseded in between) starts over as well.
 */
function step(deps: RecoveryRouteDeps, states: RecoveryState[], handler: StepHandler) {
  return async (ctx: Context): Promise<void> => {
    const progress = await progressOf(ctx, deps);
    if (!progress) return restart(ctx, deps, await loginOfFlow(ctx, deps), true);
    if (!states.includes(progress.state)) return seeOther(ctx, withLang(ctx, STEP_PATH[progress.state] ?? PATH));
    try {
      await handler(ctx, progress);
    } catch (err) {
      if (err instanceof AppError && err.code === 'FLOW_EXPIRED') return restart(ctx, deps, progress.login, true);
      throw err;
    }
  };
}

function renderMethod(ctx: Context, deps: RecoveryRouteDeps, progress: Progress, values: { channel: RecoveryChannel; country: string; number: string }, error?: AppError): void {
  const locale = negotiateLocale(ctx, deps.config.locales.default, progress.login?.uiLocales);
  renderStep(ctx, deps, 'recovery/method', progress, {
    values,
    sms: values.channel === 'sms',
    countries: callingCodeOptions(locale).map((c) => ({ ...c, selected: c.code === values.country })),
  }, error);
}

function renderCode(ctx: Context, deps: RecoveryRouteDeps, progress: Progress, error?: AppError): void {
  renderStep(ctx, deps, 'recovery/code', progress, {
    sms: progress.context.channel === 'sms',
    maskedPhone: progress.context.maskedPhone,
    digits: deps.config.codes.digits,
    minutes: codeMinutes(deps.config.codes),
    sent: ctx.query.sent !== undefined,
  }, error);
}

async function renderSecondFactor(ctx: Context, deps: RecoveryRouteDeps, progress: Progress, error?: AppError): Promise<void> {
  const kind = await recoverySecondFactorKind(deps, progress.flowId);
  renderStep(ctx, deps, 'recovery/second-factor', progress, {
    base: `${PATH}/second-factor`,
    totp: kind === 'totp',
    duo: kind === 'duo',
    recovery: ctx.query.recovery !== undefined || error?.code === 'RECOVERY_CODE_WRONG' || error?.code === 'DUO_UNAVAILABLE',
  }, error);
}

function renderPassword(ctx: Context, deps: RecoveryRouteDeps, progress: Progress, error?: FormError | AppError): void {
  const codes = error instanceof FormError ? error.codes : [];
  renderStep(ctx, deps, 'recovery/password', progress, {
    invalid: { password: codes.some((c) => c !== 'PASSWORD_MISMATCH'), confirmation: codes.includes('PASSWORD_MISMATCH') },
    policy: JSON.stringify(deps.policy.checklist()),
    policyValues: deps.policy.checklist(),
    checklistEmail: progress.email,
  }, error);
}

const duoCallbackUrl = (deps: RecoveryRouteDeps) => `${deps.config.issuer}${PATH}/duo/callback`;

/**
 * The password is reset: back to the login the user came from, at the password step with the
 * address filled in, or to the account console's login. Either way they log in again.
 */
function finish(ctx: Context, deps: RecoveryRouteDeps, email: string, login: OpenLogin | undefined): void {
  setFlowCookie(ctx, deps, null);
  if (login) {
    setEmailCookie(ctx, deps, login.uid, email);
    return seeOther(ctx, withLang(ctx, `/interaction/${login.uid}/password`, { reset: '1' }));
  }
  setNotice(ctx, deps.config, 'password_changed');
  seeOther(ctx, '/account/login');
}

/** R1-R5: forgot password, from the address to a new password. */
export function recoveryRoutes(deps: RecoveryRouteDeps): Router {
  const router = new Router();
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];
  const { awaitingChannel, awaitingCode, awaitingSecondFactor, awaitingPassword } = RecoveryState;

  router.get(PATH, async (ctx) => {
    const login = await openLogin(deps, ctx.query.interaction);
    renderStart(ctx, deps, { interaction: login?.uid }, login);
  });

  // "Forgot password?" on the password step: the address typed in step 1 is filled in.
  router.get('/interaction/:uid/forgot-password', async (ctx) => {
    const login = await openLogin(deps, ctx.params.uid);
    renderStart(ctx, deps, { email: login && emailCookie(ctx) }, login);
  });

  router.post(PATH, ...form, async (ctx) => {
    const login = await openLogin(deps, formField(ctx, 'interaction'));
    const email = formField(ctx, 'email').slice(0, 1000);
    try {
      const locale = negotiateLocale(ctx, deps.config.locales.default, login?.uiLocales);
      const flowId = await startRecovery(deps, { email, locale, interaction: login?.uid }, ctx.ip);
      setFlowCookie(ctx, deps, flowId);
      seeOther(ctx, withLang(ctx, `${PATH}/method`));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      renderStart(ctx, deps, { email: email.slice(0, 254) }, login, err);
    }
  });

  // "Start again" (another address): the first page, for the same login.
  router.get(`${PATH}/restart`, async (ctx) => {
    const login = await loginOfFlow(ctx, deps);
    setFlowCookie(ctx, deps, null);
    seeOther(ctx, withLang(ctx, PATH, { interaction: login?.uid }));
  });

  router.get(`${PATH}/method`, step(deps, [awaitingChannel, awaitingCode], async (ctx, progress) => {
    const channel = ctx.query.channel === 'sms' ? 'sms' : 'email';
    renderMethod(ctx, deps, progress, { channel, country: 'JP', number: '' });
  }));

  router.post(`${PATH}/method`, ...form, step(deps, [awaitingChannel, awaitingCode], async (ctx, progress) => {
    const values = {
      channel: (formField(ctx, 'channel') === 'sms' ? 'sms' : 'email') as RecoveryChannel,
      country: formField(ctx, 'country').slice(0, 2),
      number: formField(ctx, 'number').slice(0, 40),
    };
    try {
      await sendRecoveryCode(deps, progress.flowId, values.channel, values);
      seeOther(ctx, withLang(ctx, `${PATH}/code`));
    } catch (err) {
      renderMethod(ctx, deps, progress, values, refusalOf(err));
    }
  }));

  router.get(`${PATH}/code`, step(deps, [awaitingCode], async (ctx, progress) => renderCode(ctx, deps, progress)));

  router.post(`${PATH}/code`, ...form, step(deps, [awaitingCode], async (ctx, progress) => {
    try {
      const next = await verifyResetCode(deps, progress.flowId, formField(ctx, 'code').slice(0, 64));
      seeOther(ctx, withLang(ctx, STEP_PATH[next]!));
    } catch (err) {
      renderCode(ctx, deps, progress, refusalOf(err));
    }
  }));

  // A new code by email at once; by SMS the number is asked again (it is not kept).
  router.post(`${PATH}/resend`, ...form, step(deps, [awaitingCode], async (ctx, progress) => {
    if (progress.context.channel === 'sms') return seeOther(ctx, withLang(ctx, `${PATH}/method`, { channel: 'sms' }));
    try {
      await sendRecoveryCode(deps, progress.flowId, 'email');
      seeOther(ctx, withLang(ctx, `${PATH}/code`, { sent: '1' }));
    } catch (err) {
      renderCode(ctx, deps, progress, refusalOf(err));
    }
  }));

  router.get(`${PATH}/second-factor`, step(deps, [awaitingSecondFactor], (ctx, progress) => renderSecondFactor(ctx, deps, progress)));

  const proofRoute = (field: 'code' | 'recovery_code') => step(deps, [awaitingSecondFactor], async (ctx, progress) => {
    const value = formField(ctx, field).slice(0, 64);
    try {
      await passRecoverySecondFactor(deps, progress.flowId, field === 'code' ? { totp: value } : { recoveryCode: value }, ctx.ip, ctx);
      seeOther(ctx, withLang(ctx, `${PATH}/password`));
    } catch (err) {
      await renderSecondFactor(ctx, deps, progress, refusalOf(err));
    }
  });
  router.post(`${PATH}/second-factor/totp`, ...form, proofRoute('code'));
  router.post(`${PATH}/second-factor/recovery`, ...form, proofRoute('recovery_code'));

  router.post(`${PATH}/second-factor/duo`, ...form, step(deps, [awaitingSecondFactor], async (ctx, progress) => {
    try {
      const { url, state } = await startRecoveryDuo(deps, deps.duo, progress.flowId, duoCallbackUrl(deps));
      setSignedCookie(ctx, deps.config, DUO_STATE_COOKIE, `${state}.${progress.flowId}`, { path: PATH, maxAgeMs: deps.config.mfa.stepSeconds * 1000 });
      seeOther(ctx, url);
    } catch (err) {
      await renderSecondFactor(ctx, deps, progress, refusalOf(err));
    }
  }));

  router.get(`${PATH}/duo/callback`, step(deps, [awaitingSecondFactor], async (ctx, progress) => {
    const [state, flowId] = (takeSignedCookie(ctx, DUO_STATE_COOKIE, PATH) ?? '').split('.');
    try {
      await passRecoveryDuo(deps, deps.duo, progress.flowId, duoCallbackUrl(deps), flowId === progress.flowId ? state : undefined, ctx.query, ctx);
      seeOther(ctx, withLang(ctx, `${PATH}/password`));
    } catch (err) {
      await renderSecondFactor(ctx, deps, progress, refusalOf(err));
    }
  }));

  router.get(`${PATH}/password`, step(deps, [awaitingPassword], async (ctx, progress) => renderPassword(ctx, deps, progress)));

  router.post(`${PATH}/password`, ...form, step(deps, [awaitingPassword], async (ctx, progress) => {
    try {
      const done = await resetPassword(deps, progress.flowId, formField(ctx, 'password'), formField(ctx, 'password_confirmation'), ctx);
      finish(ctx, deps, done.email, progress.login);
    } catch (err) {
      renderPassword(ctx, deps, progress, err instanceof FormError ? err : refusalOf(err));
    }
  }));

  return router;
}
