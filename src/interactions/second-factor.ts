import type { Context } from 'koa';
import type { AccountRow, MfaFactorRow } from '../db/schema.js';
import { AppError } from '../http/errors.js';
import { errorMessage, renderPage, seeOther, setSignedCookie } from '../http/page.js';
import { findAccountById } from '../identity/accounts/repository.js';
import { finishSetup, proveSecondFactor, startDuoSetup, startTotpSetup, type SecondFactorProof } from '../identity/factors/mfa.js';
import { isRememberedBrowser, rememberBrowser } from '../identity/factors/remembered-browsers.js';
import { activeFactor, pendingFactor } from '../identity/factors/repository.js';
import { totpSetupView } from '../identity/factors/setup-view.js';
import { ACR, AMR, requestsMfa } from '../oidc/acr.js';
import { recordAudit } from '../security/audit.js';
import { emailCookie, interactionCookie, interactionPath, setInteractionCookie } from './cookies.js';
import { withLang } from '../http/url.js';
import { clientName, formField, type Interaction, type InteractionDeps } from './context.js';
import { assertLoginPrompt, loginResult, renderEmailStep } from './login.js';

// L3: after the right password, "<account id>.<when>" (signed) until the second factor is passed.
const PASSWORD_PASSED_COOKIE = 'monban_login_mfa';
// The state sent to Duo, bound to this browser and interaction: "<state>.<login|setup>.<remember 0|1>".
const DUO_STATE_COOKIE = 'monban_duo_state';
// "Remember this browser": a random token whose hash is stored (revocable on the security page).
export const REMEMBER_COOKIE = 'monban_mfa_browser';

/**
 * Whether this login needs a second step: the account has a factor (unless this browser is
 * remembered and the relying party did not ask for MFA), or the relying party asked for MFA
 * and the account must set a factor up first.
 */
export async function needsSecondFactor(ctx: Context, deps: InteractionDeps, interaction: Interaction, accountId: string): Promise<boolean> {
  const demanded = requestsMfa(interaction.params);
  if (!(await activeFactor(deps.db, accountId))) return demanded;
  if (demanded || deps.config.mfa.rememberBrowserDays === 0) return true;
  return !(await isRememberedBrowser(deps.db, accountId, ctx.cookies.get(REMEMBER_COOKIE, { signed: true })));
}

export function beginSecondFactor(ctx: Context, deps: InteractionDeps, interaction: Interaction, accountId: string): void {
  setInteractionCookie(ctx, deps, interaction.uid, PASSWORD_PASSED_COOKIE, `${accountId}.${Date.now()}`, deps.config.mfa.stepSeconds * 1000);
  seeOther(ctx, withLang(ctx, `${interactionPath(interaction.uid)}/mfa`));
}

/** The account whose password was just right in this interaction, if that was recent enough. */
async function passwordPassed(ctx: Context, deps: InteractionDeps): Promise<AccountRow | undefined> {
  const [accountId, at] = (interactionCookie(ctx, PASSWORD_PASSED_COOKIE) ?? '').split('.');
  if (!accountId || !(Date.now() - Number(at) < deps.config.mfa.stepSeconds * 1000)) return undefined;
  const account = await findAccountById(deps.db, accountId);
  return account?.status === 'active' ? account : undefined;
}

type Step = (ctx: Context, deps: InteractionDeps, interaction: Interaction, account: AccountRow) => Promise<void>;

/** Every second-factor route: a login interaction whose password step was passed, else start over. */
export function secondStep(step: Step) {
  return async (ctx: Context, deps: InteractionDeps): Promise<void> => {
    const interaction = await deps.provider.interactionDetails(ctx.req, ctx.res);
    assertLoginPrompt(interaction);
    const account = await passwordPassed(ctx, deps);
    if (!account) return renderEmailStep(ctx, deps, interaction, emailCookie(ctx) ?? '', new AppError('MFA_STEP_EXPIRED'));
    await step(ctx, deps, interaction, account);
  };
}

async function renderStep(ctx: Context, deps: InteractionDeps, interaction: Interaction, view: string,
  data: Record<string, unknown>, error?: AppError): Promise<void> {
  ctx.set('cache-control', 'no-store');
  renderPage(ctx, deps, view, {
    title: 'mfa.title',
    uid: interaction.uid,
    clientName: await clientName(deps, interaction.params.client_id),
    rememberDays: deps.config.mfa.rememberBrowserDays || undefined,
    ...errorMessage(error),
    ...data,
  }, { status: error?.status ?? 200, uiLocales: interaction.params.ui_locales, form: true });
}

/** The second-factor page: a code field (authenticator app) or the Duo button, and recovery codes. */
async function renderChallenge(ctx: Context, deps: InteractionDeps, interaction: Interaction, account: AccountRow,
  factor: MfaFactorRow | undefined, error?: AppError): Promise<void> {
  await renderStep(ctx, deps, interaction, 'interaction/mfa', {
    email: account.email,
    base: `${interactionPath(interaction.uid)}/mfa`,
    totp: factor?.kind === 'totp',
    duo: factor?.kind === 'duo',
    recovery: ctx.query.recovery !== undefined || error?.code === 'RECOVERY_CODE_WRONG' || error?.code === 'DUO_UNAVAILABLE',
  }, error);
}

export const showChallenge: Step = async (ctx, deps, interaction, account) => {
  const factor = await activeFactor(deps.db, account.id);
  if (!factor) return seeOther(ctx, withLang(ctx, `${interactionPath(interaction.uid)}/mfa/setup`));
  await renderChallenge(ctx, deps, interaction, account, factor);
};

/** The factor is passed: remember the browser if asked, then finish the login with MFA. */
async function passed(ctx: Context, deps: InteractionDeps, interaction: Interaction, account: AccountRow,
  amr: readonly string[], remember: boolean): Promise<string> {
  const days = deps.config.mfa.rememberBrowserDays;
  if (days > 0 && remember) {
    const token = await rememberBrowser(deps.db, account.id, days, ctx);
    setSignedCookie(ctx, deps.config, REMEMBER_COOKIE, token, { path: '/interaction', maxAgeMs: days * 86_400_000 });
  }
  setInteractionCookie(ctx, deps, interaction.uid, PASSWORD_PASSED_COOKIE, null);
  return loginResult(ctx, deps, interaction, account.id, amr, ACR.mfa);
}

const rememberTicked = (ctx: Context) => formField(ctx, 'remember') === '1';

/**
 * Checks a code (second-factor throttle included); a refusal is audited and returns it to
 * show, a pass returns undefined.
 */
async function refusal(ctx: Context, deps: InteractionDeps, factor: MfaFactorRow, proof: SecondFactorProof,
  auditWrong: boolean): Promise<AppError | undefined> {
  try {
    await proveSecondFactor(deps, deps.secondFactorThrottle, factor, proof, ctx.ip, { ctx, wrong: auditWrong });
    return undefined;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return err;
  }
}

async function submitProof(ctx: Context, deps: InteractionDeps, interaction: Interaction, account: AccountRow,
  factor: MfaFactorRow, proof: SecondFactorProof, amr: readonly string[]): Promise<void> {
  const refused = await refusal(ctx, deps, factor, proof, true);
  if (refused) return renderChallenge(ctx, deps, interaction, account, factor, refused);
  seeOther(ctx, await passed(ctx, deps, interaction, account, amr, rememberTicked(ctx)));
}

export const submitTotp: Step = async (ctx, deps, interaction, account) => {
  const factor = await activeFactor(deps.db, account.id);
  if (factor?.kind !== 'totp') return showChallenge(ctx, deps, interaction, account);
  await submitProof(ctx, deps, interaction, account, factor, { totp: formField(ctx, 'code') }, AMR.totp);
};

export const submitRecoveryCode: Step = async (ctx, deps, interaction, account) => {
  const factor = await activeFactor(deps.db, account.id);
  if (!factor) return showChallenge(ctx, deps, interaction, account);
  await submitProof(ctx, deps, interaction, account, factor, { recoveryCode: formField(ctx, 'recovery_code') }, AMR.recoveryCode);
};

const duoCallbackUrl = (deps: InteractionDeps, uid: string) => `${deps.config.issuer}${interactionPath(uid)}/mfa/duo/callback`;

/** Off to Duo's prompt, after its health check; when Duo is down the login fails closed. */
async function goToDuo(ctx: Context, deps: InteractionDeps, interaction: Interaction, account: AccountRow, purpose: 'login' | 'setup'): Promise<void> {
  const { url, state } = await deps.duo.start(duoCallbackUrl(deps, interaction.uid), account.email);
  // The box ticked on this page comes back with Duo's redirect, which carries no form.
  const remember = rememberTicked(ctx) ? '1' : '0';
  setInteractionCookie(ctx, deps, interaction.uid, DUO_STATE_COOKIE, `${state}.${purpose}.${remember}`, deps.config.mfa.stepSeconds * 1000);
  seeOther(ctx, url);
}

export const startDuo: Step = async (ctx, deps, interaction, account) => {
  const factor = await activeFactor(deps.db, account.id);
  if (factor?.kind !== 'duo') return showChallenge(ctx, deps, interaction, account);
  try {
    await goToDuo(ctx, deps, interaction, account, 'login');
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    await recordAudit(deps.db, { type: 'mfa.failed', accountId: account.id, details: { kind: 'duo', reason: 'unavailable' } }, ctx);
    await renderChallenge(ctx, deps, interaction, account, factor, err);
  }
};

/** Back from Duo: the state must be this browser's, and Duo must have approved this account. */
export const duoCallback: Step = async (ctx, deps, interaction, account) => {
  const [state, purpose, remember] = (interactionCookie(ctx, DUO_STATE_COOKIE) ?? '').split('.');
  setInteractionCookie(ctx, deps, interaction.uid, DUO_STATE_COOKIE, null);
  const approved = await deps.duo.approved(duoCallbackUrl(deps, interaction.uid), account.email, state, ctx.query);
  if (!approved) {
    await recordAudit(deps.db, { type: 'mfa.failed', accountId: account.id, details: { kind: 'duo' } }, ctx);
    if (purpose === 'setup') return renderSetupChoice(ctx, deps, interaction, new AppError('DUO_DENIED', 401));
    return renderChallenge(ctx, deps, interaction, account, await activeFactor(deps.db, account.id), new AppError('DUO_DENIED', 401));
  }
  if (purpose === 'setup') {
    const pending = await pendingFactor(deps.db, account.id, 'duo');
    const codes = pending && await finishSetup(deps, account, pending, ctx);
    if (!codes) return renderSetupChoice(ctx, deps, interaction, new AppError('MFA_SETUP_EXPIRED'));
    return showRecoveryCodes(ctx, deps, interaction, account, codes, AMR.duo);
  }
  seeOther(ctx, await passed(ctx, deps, interaction, account, AMR.duo, remember === '1'));
};

// An RP asked for MFA (acr_values) and the account has none: it sets one up before going on.
async function renderSetupChoice(ctx: Context, deps: InteractionDeps, interaction: Interaction, error?: AppError): Promise<void> {
  await renderStep(ctx, deps, interaction, 'interaction/mfa-setup', { duoEnabled: deps.duo.enabled }, error);
}

export const showSetup: Step = async (ctx, deps, interaction, account) => {
  if (await activeFactor(deps.db, account.id)) return showChallenge(ctx, deps, interaction, account);
  await renderSetupChoice(ctx, deps, interaction);
};

export const chooseSetup: Step = async (ctx, deps, interaction, account) => {
  if (await activeFactor(deps.db, account.id)) return showChallenge(ctx, deps, interaction, account);
  const method = formField(ctx, 'method');
  if (method === 'totp') {
    await startTotpSetup(deps, account);
    return seeOther(ctx, withLang(ctx, `${interactionPath(interaction.uid)}/mfa/setup/totp`));
  }
  if (method === 'duo' && deps.duo.enabled) {
    await startDuoSetup(deps, account);
    try {
      return await goToDuo(ctx, deps, interaction, account, 'setup');
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return renderSetupChoice(ctx, deps, interaction, err);
    }
  }
  await renderSetupChoice(ctx, deps, interaction, new AppError('MFA_METHOD_REQUIRED'));
};

async function renderTotpSetup(ctx: Context, deps: InteractionDeps, interaction: Interaction, account: AccountRow, error?: AppError): Promise<void> {
  const pending = await pendingFactor(deps.db, account.id, 'totp');
  if (!pending) return seeOther(ctx, withLang(ctx, `${interactionPath(interaction.uid)}/mfa/setup`));
  await renderStep(ctx, deps, interaction, 'interaction/mfa-totp-setup', await totpSetupView(deps.box, account, pending), error);
}

export const showTotpSetup: Step = (ctx, deps, interaction, account) => renderTotpSetup(ctx, deps, interaction, account);

export const confirmTotpSetup: Step = async (ctx, deps, interaction, account) => {
  const pending = await pendingFactor(deps.db, account.id, 'totp');
  if (!pending) return renderSetupChoice(ctx, deps, interaction, new AppError('MFA_SETUP_EXPIRED'));
  const refused = await refusal(ctx, deps, pending, { totp: formField(ctx, 'code') }, false);
  if (refused) return renderTotpSetup(ctx, deps, interaction, account, refused);
  const codes = await finishSetup(deps, account, pending, ctx);
  if (!codes) return renderSetupChoice(ctx, deps, interaction, new AppError('MFA_SETUP_EXPIRED'));
  await showRecoveryCodes(ctx, deps, interaction, account, codes, AMR.totp);
};

/** Set up during the login: the login is finished now, and the codes are shown once before going on. */
async function showRecoveryCodes(ctx: Context, deps: InteractionDeps, interaction: Interaction, account: AccountRow,
  codes: string[], amr: readonly string[]): Promise<void> {
  const continueUrl = await passed(ctx, deps, interaction, account, amr, false);
  await renderStep(ctx, deps, interaction, 'interaction/mfa-recovery-codes', { codes, continueUrl });
}

