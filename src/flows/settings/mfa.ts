import type { Context } from 'koa';
import { AppError, FormError } from '../../errors.js';
import { seeOther, setSignedCookie, takeSignedJson } from '../../http/page.js';
import {
  finishSetup,
  proveSecondFactor,
  renewRecoveryCodes,
  startDuoSetup,
  startTotpSetup,
  turnOffMfa,
} from '../../identity/factors/mfa.js';
import { forgetBrowser } from '../../identity/factors/remembered-browsers.js';
import { activeFactor, pendingFactor } from '../../identity/factors/repository.js';
import { totpSetupView } from '../../identity/factors/setup-view.js';
import { z } from 'zod';
import { choice, parseForm, text } from '../../http/form.js';
import { recordAudit } from '../../security/audit.js';
import { clearSealedCookie, readSealedCookie, setSealedCookie, type SealedCookie } from '../../http/sealed-cookie.js';
import { signedIn, type SettingsDeps, type SignedIn } from './context.js';
import { confirmPassword, reauthForm } from './reauth.js';
import { done, handleForm, renderAccountPage } from './render.js';
import { requestMeta } from '../../http/request-meta.js';

const MFA_PATH = '/account/security/mfa';
const CODES_PATH = `${MFA_PATH}/codes`;
// The trip to Duo during setup (duo-handshake's PendingDuo), bound to this browser's console session.
const DUO_STATE_COOKIE = 'monban_duo_setup';

const duoTrip = (deps: SettingsDeps, current: SignedIn) => ({
  callbackUrl: `${deps.config.issuer}${MFA_PATH}/duo/callback`,
  username: current.account.email,
  boundTo: current.sessionId,
});

/** PR5: the password and the second factor chosen. */
const chooseForm = reauthForm.extend({ method: choice(['totp', 'duo'], '') });
/** The authenticator app's first code. */
const totpForm = z.object({ code: text(64) });
/** A remembered browser to forget. */
const browserForm = z.object({ browser_id: text(200) });

/** PR5 step 1: the choice of method, under the password. */
export async function showMfaChoice(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): Promise<void> {
  if (!error && (await activeFactor(deps.db, signedIn(ctx).account.id))) return seeOther(ctx, '/account/security');
  renderAccountPage(ctx, deps, 'account/mfa-choose', 'security', { duoEnabled: deps.duo.enabled }, error);
}

/** PR5 step 2: password again, then the authenticator app's QR code or Duo's prompt. */
export async function chooseMfa(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(
    ctx,
    async () => {
      const { current_password: currentPassword, method } = parseForm(ctx, chooseForm);
      await confirmPassword(ctx, deps, current, currentPassword);
      if (method === 'totp') {
        await startTotpSetup(deps, current.account);
        return seeOther(ctx, `${MFA_PATH}/totp`);
      }
      if (method !== 'duo' || !deps.duo.enabled) throw new AppError('MFA_METHOD_REQUIRED');
      await startDuoSetup(deps, current.account);
      const { url, pending } = await deps.duo.start(duoTrip(deps, current), { purpose: 'setup' });
      setSignedCookie(ctx, deps.config, DUO_STATE_COOKIE, JSON.stringify(pending), {
        path: MFA_PATH,
        maxAgeMs: deps.config.mfa.stepSeconds * 1000,
      });
      seeOther(ctx, url);
    },
    (error) => showMfaChoice(ctx, deps, error),
  );
}

export async function showTotpSetup(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): Promise<void> {
  const { account } = signedIn(ctx);
  const pending = await pendingFactor(deps.db, account.id, 'totp');
  if (!pending) return seeOther(ctx, MFA_PATH);
  renderAccountPage(ctx, deps, 'account/mfa-totp', 'security', await totpSetupView(deps.box, account, pending), error);
}

/**
 * New recovery codes are shown once, yet the page must survive a reload or a switch of language:
 * they wait, sealed and bound to this account and session, in a cookie of the codes page for ten
 * minutes or until the user says they are saved.
 */
const codesCookie = (current: SignedIn): SealedCookie => ({
  name: 'monban_codes',
  path: CODES_PATH,
  context: `recovery-codes:${current.account.id}.${current.sessionId}`,
  maxAgeMs: 10 * 60 * 1000,
});

interface ShownCodes {
  codes: string[];
  /** New codes for an account that had MFA already (else MFA was just turned on). */
  renewed: boolean;
}

function showRecoveryCodes(ctx: Context, deps: SettingsDeps, shown: ShownCodes): void {
  setSealedCookie(ctx, deps.config, deps.box, codesCookie(signedIn(ctx)), shown);
  seeOther(ctx, CODES_PATH);
}

export function showSavedRecoveryCodes(ctx: Context, deps: SettingsDeps): void {
  const shown = readSealedCookie(ctx, deps.box, codesCookie(signedIn(ctx))) as ShownCodes | undefined;
  if (!Array.isArray(shown?.codes)) return seeOther(ctx, '/account/security');
  renderAccountPage(ctx, deps, 'account/mfa-codes', 'security', { codes: shown.codes, renewed: shown.renewed });
}

/** "I have saved the codes": they are not shown again. */
export function recoveryCodesSaved(ctx: Context): void {
  clearSealedCookie(ctx, { name: 'monban_codes', path: CODES_PATH });
  seeOther(ctx, '/account/security');
}

/** PR5 step 3: a valid code from the app turns MFA on and shows the recovery codes once. */
export async function confirmTotpSetup(ctx: Context, deps: SettingsDeps): Promise<void> {
  const { account, sessionId } = signedIn(ctx);
  const pending = await pendingFactor(deps.db, account.id, 'totp');
  if (!pending) return showMfaChoice(ctx, deps, new AppError('MFA_SETUP_EXPIRED'));
  await handleForm(
    ctx,
    async () => {
      await proveSecondFactor(
        deps,
        deps.secondFactorThrottle,
        pending,
        { totp: parseForm(ctx, totpForm).code },
        requestMeta(ctx, deps.config),
      );
      const codes = await finishSetup(deps, account, pending, requestMeta(ctx, deps.config), sessionId);
      if (!codes) throw new AppError('MFA_SETUP_EXPIRED');
      showRecoveryCodes(ctx, deps, { codes, renewed: false });
    },
    (error) => showTotpSetup(ctx, deps, error),
  );
}

/** Back from Duo during setup: this browser's state, and Duo approved this account. */
export async function finishDuoSetup(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  const kept = takeSignedJson(ctx, DUO_STATE_COOKIE, MFA_PATH);
  const { approved } = await deps.duo.finish(duoTrip(deps, current), kept, ctx.query);
  const pending = approved ? await pendingFactor(deps.db, current.account.id, 'duo') : undefined;
  const codes =
    pending && (await finishSetup(deps, current.account, pending, requestMeta(ctx, deps.config), current.sessionId));
  if (codes) return showRecoveryCodes(ctx, deps, { codes, renewed: false });
  await recordAudit(
    deps.db,
    { type: 'mfa.failed', accountId: current.account.id, details: { kind: 'duo', setup: true } },
    requestMeta(ctx, deps.config),
  );
  await showMfaChoice(ctx, deps, new AppError(approved ? 'MFA_SETUP_EXPIRED' : 'DUO_DENIED'));
}

/** PR5: switching MFA off asks for the password; the page reminds to remove Monban from the app. */
export async function turnOff(
  ctx: Context,
  deps: SettingsDeps,
  rerender: (error: AppError | FormError) => Promise<void>,
): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(
    ctx,
    async () => {
      await confirmPassword(ctx, deps, current, parseForm(ctx, reauthForm).current_password, 'REAUTH_REQUIRED');
      await turnOffMfa(deps, current.account, requestMeta(ctx, deps.config), current.sessionId);
      done(ctx, '/account/security', 'mfa-off');
    },
    (error) => rerender(error),
  );
}

/** Ten new recovery codes (the old ones stop working), after the password. */
export async function newRecoveryCodes(
  ctx: Context,
  deps: SettingsDeps,
  rerender: (error: AppError | FormError) => Promise<void>,
): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(
    ctx,
    async () => {
      await confirmPassword(ctx, deps, current, parseForm(ctx, reauthForm).current_password, 'REAUTH_REQUIRED');
      if (!(await activeFactor(deps.db, current.account.id))) return seeOther(ctx, '/account/security');
      const codes = await renewRecoveryCodes(deps, current.account, requestMeta(ctx, deps.config));
      showRecoveryCodes(ctx, deps, { codes, renewed: true });
    },
    (error) => rerender(error),
  );
}

/** Forgetting a remembered browser only takes a privilege away: no password needed. */
export async function forgetRememberedBrowser(ctx: Context, deps: SettingsDeps): Promise<void> {
  const { account } = signedIn(ctx);
  if (await forgetBrowser(deps.db, account.id, parseForm(ctx, browserForm).browser_id)) {
    await recordAudit(deps.db, { type: 'mfa.browser_forgotten', accountId: account.id }, requestMeta(ctx, deps.config));
    return done(ctx, '/account/security', 'browser-forgotten');
  }
  seeOther(ctx, '/account/security');
}
