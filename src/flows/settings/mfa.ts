import type { Context } from 'koa';
import { AppError, FormError } from '../../http/errors.js';
import { seeOther, setSignedCookie, takeSignedCookie } from '../../http/page.js';
import { finishSetup, proveSecondFactor, renewRecoveryCodes, startDuoSetup, startTotpSetup, turnOffMfa } from '../../identity/factors/mfa.js';
import { forgetBrowser } from '../../identity/factors/remembered-browsers.js';
import { activeFactor, pendingFactor } from '../../identity/factors/repository.js';
import { totpSetupView } from '../../identity/factors/setup-view.js';
import { formField } from '../../interactions/context.js';
import { recordAudit } from '../../security/audit.js';
import { signedIn, type SettingsDeps } from './context.js';
import { confirmPassword } from './reauth.js';
import { done, handleForm, renderAccountPage } from './render.js';

const MFA_PATH = '/account/security/mfa';
// The state sent to Duo during setup, bound to this browser and session: "<state>.<session id>".
const DUO_STATE_COOKIE = 'monban_duo_setup';

/** PR5 step 1: the choice of method, under the password. */
export async function showMfaChoice(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): Promise<void> {
  if (!error && await activeFactor(deps.db, signedIn(ctx).account.id)) return seeOther(ctx, '/account/security');
  renderAccountPage(ctx, deps, 'account/mfa-choose', 'security', { duoEnabled: deps.duo.enabled }, error);
}

/** PR5 step 2: password again, then the authenticator app's QR code or Duo's prompt. */
export async function chooseMfa(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(ctx, async () => {
    await confirmPassword(ctx, deps, current, formField(ctx, 'current_password'));
    const method = formField(ctx, 'method');
    if (method === 'totp') {
      await startTotpSetup(deps, current.account);
      return seeOther(ctx, `${MFA_PATH}/totp`);
    }
    if (method !== 'duo' || !deps.duo.enabled) throw new AppError('MFA_METHOD_REQUIRED');
    await startDuoSetup(deps, current.account);
    const { url, state } = await deps.duo.start(`${deps.config.issuer}${MFA_PATH}/duo/callback`, current.account.email);
    setSignedCookie(ctx, deps.config, DUO_STATE_COOKIE, `${state}.${current.sessionId}`, {
      path: MFA_PATH, maxAgeMs: deps.config.mfa.stepSeconds * 1000,
    });
    seeOther(ctx, url);
  }, (error) => showMfaChoice(ctx, deps, error));
}

export async function showTotpSetup(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): Promise<void> {
  const { account } = signedIn(ctx);
  const pending = await pendingFactor(deps.db, account.id, 'totp');
  if (!pending) return seeOther(ctx, MFA_PATH);
  renderAccountPage(ctx, deps, 'account/mfa-totp', 'security', await totpSetupView(deps.box, account, pending), error);
}

function showRecoveryCodes(ctx: Context, deps: SettingsDeps, codes: string[]): void {
  renderAccountPage(ctx, deps, 'account/mfa-codes', 'security', { codes });
}

/** PR5 step 3: a valid code from the app turns MFA on and shows the recovery codes once. */
export async function confirmTotpSetup(ctx: Context, deps: SettingsDeps): Promise<void> {
  const { account } = signedIn(ctx);
  const pending = await pendingFactor(deps.db, account.id, 'totp');
  if (!pending) return showMfaChoice(ctx, deps, new AppError('MFA_SETUP_EXPIRED'));
  await handleForm(ctx, async () => {
    await proveSecondFactor(deps, deps.secondFactorThrottle, pending, { totp: formField(ctx, 'code') }, ctx.ip);
    const codes = await finishSetup(deps, account, pending, ctx);
    if (!codes) throw new AppError('MFA_SETUP_EXPIRED');
    showRecoveryCodes(ctx, deps, codes);
  }, (error) => showTotpSetup(ctx, deps, error));
}

/** Back from Duo during setup: this browser's state, and Duo approved this account. */
export async function finishDuoSetup(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  const [state, sessionId] = (takeSignedCookie(ctx, DUO_STATE_COOKIE, MFA_PATH) ?? '').split('.');
  const approved = sessionId === current.sessionId
    && await deps.duo.approved(`${deps.config.issuer}${MFA_PATH}/duo/callback`, current.account.email, state, ctx.query);
  const pending = approved ? await pendingFactor(deps.db, current.account.id, 'duo') : undefined;
  const codes = pending && await finishSetup(deps, current.account, pending, ctx);
  if (codes) return showRecoveryCodes(ctx, deps, codes);
  await recordAudit(deps.db, { type: 'mfa.failed', accountId: current.account.id, details: { kind: 'duo', setup: true } }, ctx);
  await showMfaChoice(ctx, deps, new AppError(approved ? 'MFA_SETUP_EXPIRED' : 'DUO_DENIED', 401));
}

/** PR5: switching MFA off asks for the password; the page reminds to remove Monban from the app. */
export async function turnOff(ctx: Context, deps: SettingsDeps, rerender: (error: AppError | FormError) => Promise<void>): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(ctx, async () => {
    await confirmPassword(ctx, deps, current, formField(ctx, 'current_password'));
    await turnOffMfa(deps, current.account, ctx);
    done(ctx, '/account/security', 'mfa-off');
  }, (error) => rerender(error));
}

/** Ten new recovery codes (the old ones stop working), after the password. */
export async function newRecoveryCodes(ctx: Context, deps: SettingsDeps, rerender: (error: AppError | FormError) => Promise<void>): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(ctx, async () => {
    await confirmPassword(ctx, deps, current, formField(ctx, 'current_password'));
    if (!(await activeFactor(deps.db, current.account.id))) return seeOther(ctx, '/account/security');
    showRecoveryCodes(ctx, deps, await renewRecoveryCodes(deps, current.account, ctx));
  }, (error) => rerender(error));
}

/** Forgetting a remembered browser only takes a privilege away: no password needed. */
export async function forgetRememberedBrowser(ctx: Context, deps: SettingsDeps): Promise<void> {
  const { account } = signedIn(ctx);
  if (await forgetBrowser(deps.db, account.id, formField(ctx, 'browser_id'))) {
    await recordAudit(deps.db, { type: 'mfa.browser_forgotten', accountId: account.id }, ctx);
    return done(ctx, '/account/security', 'browser-forgotten');
  }
  seeOther(ctx, '/account/security');
}
