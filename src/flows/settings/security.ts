import Bowser from 'bowser';
import type { Context } from 'koa';
import { sql } from 'kysely';
import { AppError, FormError } from '../../errors.js';
import { seeOther, setNotice } from '../../http/page.js';
import { parseForm, password, text } from '../../http/form.js';
import { ACCOUNT_CLIENT_ID } from '../../oidc/account-client.js';
import { recordAudit } from '../../security/audit.js';
import { replacePassword } from '../../identity/password/replace.js';
import { remainingRecoveryCodes } from '../../identity/factors/recovery-codes.js';
import { listRememberedBrowsers } from '../../identity/factors/remembered-browsers.js';
import { activeFactor } from '../../identity/factors/repository.js';
import { certificationHash } from '../../identity/accounts/certification.js';
import { signedIn, type SettingsDeps } from './context.js';
import { passkeyList } from './passkeys.js';
import { clearReauth, confirmPassword, reauthForm } from './reauth.js';
import { done, handleForm, renderAccountPage } from './render.js';
import { requestMeta } from '../../http/request-meta.js';

function describeDevice(userAgent: string | null): string {
  if (!userAgent) return '—';
  const { browser, os } = Bowser.parse(userAgent);
  return (
    [browser.name && `${browser.name} ${(browser.version ?? '').split('.')[0]}`.trim(), os.name]
      .filter(Boolean)
      .join(' · ') || '—'
  );
}

/** PR4: the current password and the new one twice. */
const passwordForm = reauthForm.extend({ password: password(), password_confirmation: password() });
/** A session to end, or an app whose access to remove, behind the password. */
const sessionForm = reauthForm.extend({ session_id: text(200) });
const appForm = reauthForm.extend({ client_id: text(200) });

/** PR3: password, MFA, mobile number, certification hash, sessions and apps in one place. */
export async function showSecurity(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): Promise<void> {
  const { account, sessionId } = signedIn(ctx);
  const [sessions, grants, factor, recoveryCodesLeft, browsers, passkeys] = await Promise.all([
    deps.db
      .selectFrom('account_sessions')
      .selectAll()
      .where('account_id', '=', account.id)
      // Sessions past their idle or absolute limit are over, though their rows wait for cleanup.
      .where('last_seen_at', '>', sql<Date>`now() - make_interval(secs => ${deps.config.ttl.sessionIdle})`)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
      .orderBy('last_seen_at', 'desc')
      .execute(),
    // One row per app, with its first grant: since when it has access. A grant is written per
    // login, so an account that logs in daily holds many per app.
    deps.db
      .selectFrom('account_grants')
      .select((eb) => ['client_id', eb.fn.min('created_at').as('since')])
      .where('account_id', '=', account.id)
      .where('client_id', '!=', ACCOUNT_CLIENT_ID)
      .groupBy('client_id')
      .orderBy('since')
      .execute(),
    activeFactor(deps.db, account.id),
    remainingRecoveryCodes(deps.db, account.id),
    listRememberedBrowsers(deps.db, account.id),
    passkeyList(deps, account.id),
  ]);
  const apps = await Promise.all(
    grants.map(async ({ client_id: clientId, since }) => {
      const name = await deps.clients.displayName(clientId).catch(() => undefined);
      return { clientId, name: name ?? clientId, since };
    }),
  );
  renderAccountPage(
    ctx,
    deps,
    'account/security',
    'security',
    {
      certificationHash: certificationHash(deps.certificationKey, account.id),
      reauthMinutes: Math.ceil(deps.config.account.reauthSeconds / 60),
      otherSessions: sessions.some((s) => s.session_id !== sessionId),
      sessions: sessions.map((s) => ({
        id: s.session_id,
        device: describeDevice(s.user_agent),
        ip: s.ip ?? '—',
        lastSeen: s.last_seen_at,
        current: s.session_id === sessionId,
      })),
      apps,
      mfa: factor && {
        kind: factor.kind,
        since: factor.confirmed_at ?? factor.created_at,
        recoveryCodesLeft,
        recoveryCodesLow: recoveryCodesLeft <= 3,
      },
      passkeys,
      rememberedBrowsers: browsers.map((b) => ({
        id: b.id,
        device: describeDevice(b.user_agent),
        ip: b.ip ?? '—',
        until: b.expires_at,
      })),
    },
    error,
  );
}

export function showPasswordForm(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): void {
  renderAccountPage(
    ctx,
    deps,
    'account/password',
    'security',
    {
      policy: JSON.stringify(deps.policy.checklist()),
      policyValues: deps.policy.checklist(),
      checklistEmail: signedIn(ctx).account.email,
    },
    error,
  );
}

/**
 * PR4: current password, new password twice under the full policy (history and minimum age
 * included). Then every session (this one too) and every app's tokens end, a notice mail goes
 * out, and the browser goes to the login page.
 */
export async function changePassword(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  const { account } = current;
  await handleForm(
    ctx,
    async () => {
      clearReauth(ctx); // the current password is asked every time here, whatever came before
      const fields = parseForm(ctx, passwordForm);
      await confirmPassword(ctx, deps, current, fields.current_password);
      await replacePassword(
        deps,
        account,
        {
          password: fields.password,
          confirmation: fields.password_confirmation,
          isReset: false,
          audit: { type: 'password.changed', accountId: account.id },
        },
        requestMeta(ctx, deps.config),
      );
      clearReauth(ctx);
      setNotice(ctx, deps.config, 'password_changed');
      seeOther(ctx, '/account/login');
    },
    (error) => showPasswordForm(ctx, deps, error),
  );
}

/** Ends one of the account's sessions (after the password). */
export async function endSession(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(
    ctx,
    async () => {
      const { current_password: currentPassword, session_id: sessionId } = parseForm(ctx, sessionForm);
      await confirmPassword(ctx, deps, current, currentPassword, 'REAUTH_REQUIRED');
      const ended = await deps.revoker.endSession(current.account.id, sessionId);
      if (ended) {
        await recordAudit(
          deps.db,
          {
            type: 'session.ended',
            accountId: current.account.id,
            details: { current: sessionId === current.sessionId },
          },
          requestMeta(ctx, deps.config),
        );
      }
      if (sessionId === current.sessionId) {
        return seeOther(ctx, '/account/logged-out');
      }
      // Nothing to say when the session was not this account's (or already gone).
      if (ended) return done(ctx, '/account/security', 'session-ended');
      seeOther(ctx, '/account/security');
    },
    (error) => showSecurity(ctx, deps, error),
  );
}

/** The security page's one re-authentication: a right password counts for account.reauthSeconds. */
export async function reauthenticate(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(
    ctx,
    async () => {
      clearReauth(ctx); // a password typed here is always checked
      await confirmPassword(ctx, deps, current, parseForm(ctx, reauthForm).current_password);
      seeOther(ctx, '/account/security');
    },
    (error) => showSecurity(ctx, deps, error),
  );
}

/** "Sign out everywhere else": every session of the account but this one; apps keep their access. */
export async function endOtherSessions(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(
    ctx,
    async () => {
      await confirmPassword(ctx, deps, current, parseForm(ctx, reauthForm).current_password, 'REAUTH_REQUIRED');
      await deps.revoker.endOtherSessions(current.account.id, current.sessionId);
      await recordAudit(
        deps.db,
        { type: 'session.ended', accountId: current.account.id, details: { others: true } },
        requestMeta(ctx, deps.config),
      );
      done(ctx, '/account/security', 'others-ended');
    },
    (error) => showSecurity(ctx, deps, error),
  );
}

/** Revokes an app's access: its tokens stop working and it must ask for consent again. */
export async function revokeApp(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(
    ctx,
    async () => {
      const { current_password: currentPassword, client_id: clientId } = parseForm(ctx, appForm);
      await confirmPassword(ctx, deps, current, currentPassword, 'REAUTH_REQUIRED');
      const revoked =
        clientId && clientId !== ACCOUNT_CLIENT_ID ? await deps.revoker.revokeClient(current.account.id, clientId) : 0;
      if (revoked > 0) {
        await recordAudit(
          deps.db,
          { type: 'app.revoked', accountId: current.account.id, clientId },
          requestMeta(ctx, deps.config),
        );
        return done(ctx, '/account/security', 'app-revoked');
      }
      seeOther(ctx, '/account/security');
    },
    (error) => showSecurity(ctx, deps, error),
  );
}
