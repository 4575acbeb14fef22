import Bowser from 'bowser';
import type { Context } from 'koa';
import { AppError, FormError } from '../../http/errors.js';
import { seeOther, setNotice } from '../../http/page.js';
import { formField } from '../../interactions/context.js';
import { ACCOUNT_CLIENT_ID } from '../../oidc/account-client.js';
import { recordAudit } from '../../security/audit.js';
import { formatPhone } from '../../identity/accounts/phone.js';
import { replacePassword } from '../../identity/password/replace.js';
import { remainingRecoveryCodes } from '../../identity/factors/recovery-codes.js';
import { listRememberedBrowsers } from '../../identity/factors/remembered-browsers.js';
import { activeFactor } from '../../identity/factors/repository.js';
import { certificationHash } from './certification.js';
import { signedIn, type SettingsDeps } from './context.js';
import { clearReauth, confirmPassword } from './reauth.js';
import { done, handleForm, renderAccountPage } from './render.js';

function describeDevice(userAgent: string | null): string {
  if (!userAgent) return '—';
  const { browser, os } = Bowser.parse(userAgent);
  return [browser.name && `${browser.name} ${(browser.version ?? '').split('.')[0]}`.trim(), os.name].filter(Boolean).join(' · ') || '—';
}

/** PR3: password, MFA, mobile number, certification hash, sessions and apps in one place. */
export async function showSecurity(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): Promise<void> {
  const { account, sessionId } = signedIn(ctx);
  const [sessions, grants, factor, recoveryCodesLeft, browsers] = await Promise.all([
    deps.db.selectFrom('account_sessions').selectAll().where('account_id', '=', account.id).orderBy('last_seen_at', 'desc').execute(),
    deps.db.selectFrom('account_grants').select(['client_id', 'created_at']).where('account_id', '=', account.id)
      .where('client_id', '!=', ACCOUNT_CLIENT_ID).orderBy('created_at').execute(),
    activeFactor(deps.db, account.id),
    remainingRecoveryCodes(deps.db, account.id),
    listRememberedBrowsers(deps.db, account.id),
  ]);
  const clientIds = [...new Set(grants.map((g) => g.client_id))];
  const apps = await Promise.all(clientIds.map(async (clientId) => {
    const client = await deps.provider.Client.find(clientId).catch(() => undefined);
    return { clientId, name: client?.clientName ?? clientId, since: grants.find((g) => g.client_id === clientId)!.created_at };
  }));
  renderAccountPage(ctx, deps, 'account/security', 'security', {
    certificationHash: certificationHash(deps.certificationKey, account.id),
    phoneDisplay: account.phone_number ? formatPhone(account.phone_number) : undefined,
    sessions: sessions.map((s) => ({
      id: s.session_id, device: describeDevice(s.user_agent), ip: s.ip ?? '—',
      lastSeen: s.last_seen_at.toISOString().replace('T', ' ').slice(0, 16) + ' UTC', current: s.session_id === sessionId,
    })),
    apps: apps.map((a) => ({ ...a, since: a.since.toISOString().slice(0, 10) })),
    mfa: factor && {
      kind: factor.kind,
      since: (factor.confirmed_at ?? factor.created_at).toISOString().slice(0, 10),
      recoveryCodesLeft,
      recoveryCodesLow: recoveryCodesLeft <= 3,
    },
    rememberedBrowsers: browsers.map((b) => ({
      id: b.id, device: describeDevice(b.user_agent), ip: b.ip ?? '—', until: b.expires_at.toISOString().slice(0, 10),
    })),
  }, error);
}

export function showPasswordForm(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): void {
  renderAccountPage(ctx, deps, 'account/password', 'security', {
    policy: JSON.stringify(deps.policy.checklist()),
    policyValues: deps.policy.checklist(),
    checklistEmail: signedIn(ctx).account.email,
  }, error);
}

/**
 * PR4: current password, new password twice under the full policy (history and minimum age
 * included). Then every session (this one too) and every app's tokens end, a notice mail goes
 * out, and the browser goes to the login page.
 */
export async function changePassword(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  const { account } = current;
  await handleForm(ctx, async () => {
    clearReauth(ctx); // the current password is asked every time here, whatever came before
    await confirmPassword(ctx, deps, current, formField(ctx, 'current_password'));
    await replacePassword(deps, account, {
      password: formField(ctx, 'password'),
      confirmation: formField(ctx, 'password_confirmation'),
      isReset: false,
      audit: { type: 'password.changed', accountId: account.id },
    }, ctx);
    clearReauth(ctx);
    setNotice(ctx, deps.config, 'password_changed');
    seeOther(ctx, '/account/login');
  }, (error) => showPasswordForm(ctx, deps, error));
}

/** Ends one of the account's sessions (after the password). */
export async function endSession(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(ctx, async () => {
    await confirmPassword(ctx, deps, current, formField(ctx, 'current_password'));
    const sessionId = formField(ctx, 'session_id');
    const ended = await deps.revoker.endSession(current.account.id, sessionId);
    if (ended) {
      await recordAudit(deps.db, { type: 'session.ended', accountId: current.account.id, details: { current: sessionId === current.sessionId } }, ctx);
    }
    if (sessionId === current.sessionId) {
      return seeOther(ctx, '/account/logged-out');
    }
    // Nothing to say when the session was not this account's (or already gone).
    if (ended) return done(ctx, '/account/security', 'session-ended');
    seeOther(ctx, '/account/security');
  }, (error) => showSecurity(ctx, deps, error));
}

/** Revokes an app's access: its tokens stop working and it must ask for consent again. */
export async function revokeApp(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(ctx, async () => {
    await confirmPassword(ctx, deps, current, formField(ctx, 'current_password'));
    const clientId = formField(ctx, 'client_id');
    const revoked = clientId && clientId !== ACCOUNT_CLIENT_ID ? await deps.revoker.revokeClient(current.account.id, clientId) : 0;
    if (revoked > 0) {
      await recordAudit(deps.db, { type: 'app.revoked', accountId: current.account.id, clientId }, ctx);
      return done(ctx, '/account/security', 'app-revoked');
    }
    seeOther(ctx, '/account/security');
  }, (error) => showSecurity(ctx, deps, error));
}
