import type { Context } from 'koa';
import { AppError } from '../http/errors.js';
import { errorMessage, NOTICE_COOKIE, renderPage, seeOther } from '../http/page.js';
import { emailProblem, normalizeEmail } from '../identity/accounts/email.js';
import { findAccountByEmail, updateAccount } from '../identity/accounts/repository.js';
import { ACR, AMR } from '../oidc/acr.js';
import { recordAudit } from '../security/audit.js';
import { emailCookie, setEmailCookie } from './cookies.js';
import { withLang } from '../http/url.js';
import { clientName, formField, type Interaction, type InteractionDeps } from './context.js';
import { beginSecondFactor, needsSecondFactor } from './second-factor.js';

export function assertLoginPrompt(interaction: Interaction): void {
  if (interaction.prompt.name !== 'login') throw new AppError('INTERACTION_EXPIRED', 400);
}

export async function renderEmailStep(ctx: Context, deps: InteractionDeps, interaction: Interaction,
  email: string, error?: AppError, notice?: string): Promise<void> {
  renderPage(ctx, deps, 'interaction/email', {
    title: 'login.title',
    uid: interaction.uid,
    email,
    clientName: await clientName(deps, interaction.params.client_id),
    ...errorMessage(error),
    notice,
  }, { status: error?.status ?? 200, uiLocales: interaction.params.ui_locales, form: true });
}

/** After sign-up or a password reset the user lands on the password step with a word on why. */
function passwordStepNotice(ctx: Context): string | undefined {
  if (ctx.query.activated !== undefined) return 'signup.activatedNotice';
  if (ctx.query.reset !== undefined) return 'recovery.doneNotice';
  return undefined;
}

async function renderPasswordStep(ctx: Context, deps: InteractionDeps, interaction: Interaction,
  email: string, error?: AppError): Promise<void> {
  renderPage(ctx, deps, 'interaction/password', {
    title: 'login.title',
    uid: interaction.uid,
    email,
    clientName: await clientName(deps, interaction.params.client_id),
    ...errorMessage(error),
    notice: error ? undefined : passwordStepNotice(ctx),
  }, { status: error?.status ?? 200, uiLocales: interaction.params.ui_locales, form: true });
}

export async function showEmailStep(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  const uid = interaction.uid;
  if (ctx.query.change !== undefined) setEmailCookie(ctx, deps, uid, null);
  const hint = typeof interaction.params.login_hint === 'string' ? interaction.params.login_hint : '';
  const email = ctx.query.change !== undefined ? '' : (emailCookie(ctx) ?? hint);
  // A notice left by the page that sent the user here (e.g. "password changed, log in again").
  const notice = ctx.cookies.get(NOTICE_COOKIE) === 'password_changed' ? 'account.passwordChangedNotice' : undefined;
  if (notice) ctx.cookies.set(NOTICE_COOKIE, null, { path: '/' });
  await renderEmailStep(ctx, deps, interaction, email, undefined, notice);
}

export async function submitEmail(ctx: Context, deps: InteractionDeps): Promise<void> {
  const interaction = await deps.provider.interactionDetails(ctx.req, ctx.res);
  assertLoginPrompt(interaction);
  const raw = formField(ctx, 'email');
  const problem = emailProblem(raw);
  if (problem) return renderEmailStep(ctx, deps, interaction, raw.slice(0, 254), new AppError(problem));
  const email = normalizeEmail(raw);
  setEmailCookie(ctx, deps, interaction.uid, email);
  seeOther(ctx, withLang(ctx, `/interaction/${interaction.uid}/password`));
}

export async function showPasswordStep(ctx: Context, deps: InteractionDeps): Promise<void> {
  const interaction = await deps.provider.interactionDetails(ctx.req, ctx.res);
  assertLoginPrompt(interaction);
  const email = emailCookie(ctx);
  if (!email) {
    return seeOther(ctx, withLang(ctx, `/interaction/${interaction.uid}`));
  }
  await renderPasswordStep(ctx, deps, interaction, email);
}

const REFUSED_STATUS = {
  pending: 'ACCOUNT_PENDING',
  on_hold: 'ACCOUNT_ON_HOLD',
  disabled: 'ACCOUNT_DISABLED',
} as const;

/**
 * L2: one message for a wrong address or a wrong password, the same bcrypt work for both.
 * L5: why an account cannot log in is told only after the right password, so that a stranger
 * learns nothing about an address from it.
 */
export async function submitPassword(ctx: Context, deps: InteractionDeps): Promise<void> {
  const interaction = await deps.provider.interactionDetails(ctx.req, ctx.res);
  assertLoginPrompt(interaction);
  const email = emailCookie(ctx);
  if (!email) {
    return seeOther(ctx, withLang(ctx, `/interaction/${interaction.uid}`));
  }
  const password = formField(ctx, 'password');
  if (!password) return renderPasswordStep(ctx, deps, interaction, email, new AppError('PASSWORD_REQUIRED'));
  const clientId = String(interaction.params.client_id);

  try {
    await deps.throttle.begin(ctx.ip, email);
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    await recordAudit(deps.db, { type: 'login.throttled', clientId, details: { reason: 'rate_limit' } }, ctx);
    return renderPasswordStep(ctx, deps, interaction, email, err);
  }

  const account = await findAccountByEmail(deps.db, email);
  const valid = account?.password_hash
    ? await deps.hasher.verify(password, account.password_hash)
    : await deps.hasher.verifyAgainstNothing(password);
  if (!account || !valid) {
    await deps.throttle.failed(ctx.ip, email);
    await recordAudit(deps.db, { type: 'login.failed', accountId: account?.id, clientId }, ctx);
    return renderPasswordStep(ctx, deps, interaction, email, new AppError('LOGIN_FAILED', 401));
  }
  await deps.throttle.succeeded(ctx.ip, email);

  if (account.status !== 'active') {
    await recordAudit(deps.db, { type: 'login.refused', accountId: account.id, clientId, details: { status: account.status } }, ctx);
    return renderPasswordStep(ctx, deps, interaction, email, new AppError(REFUSED_STATUS[account.status], 403));
  }
  if (deps.hasher.needsRehash(account.password_hash!)) {
    await updateAccount(deps.db, account.id, { password_hash: await deps.hasher.hash(password) });
  }

  if (await needsSecondFactor(ctx, deps, interaction, account.id)) {
    return beginSecondFactor(ctx, deps, interaction, account.id);
  }
  await completeLogin(ctx, deps, interaction, account.id, AMR.password, ACR.password);
}

/**
 * The end of every successful login: audited, and the result handed to oidc-provider. Returns
 * where the browser goes on (the authorization endpoint's resume URL).
 */
export async function loginResult(ctx: Context, deps: InteractionDeps, interaction: Interaction,
  accountId: string, amr: readonly string[], acr: string): Promise<string> {
  await recordAudit(deps.db, { type: 'login.succeeded', accountId, clientId: String(interaction.params.client_id), details: { amr } }, ctx);
  const returnTo = await deps.provider.interactionResult(ctx.req, ctx.res, {
    login: { accountId, amr: [...amr], acr, remember: true },
  }, { mergeWithLastSubmission: false });
  setEmailCookie(ctx, deps, interaction.uid, null);
  return returnTo;
}

export async function completeLogin(ctx: Context, deps: InteractionDeps, interaction: Interaction,
  accountId: string, amr: readonly string[], acr: string): Promise<void> {
  const returnTo = await loginResult(ctx, deps, interaction, accountId, amr, acr);
  seeOther(ctx, returnTo);
}
