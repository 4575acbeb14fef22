import type { Context } from 'koa';
import { AppError } from '../http/errors.js';
import { NOTICE_COOKIE, renderPage, secureCookies, type PageDeps } from '../http/page.js';
import { emailProblem, normalizeEmail } from '../identity/accounts/email.js';
import { findAccountByEmail, updateAccount } from '../identity/accounts/repository.js';
import { ACR } from '../oidc/acr.js';
import { recordAudit } from '../security/audit.js';
import { clientName, formField, withLang, type Interaction, type InteractionDeps } from './context.js';

// L1 identifier first: the address from step 1 waits for step 2 in a signed cookie scoped to
// this interaction's path, so no server state is needed between the two steps.
const EMAIL_COOKIE = 'monban_login_email';

function emailCookie(ctx: Context): string | undefined {
  return ctx.cookies.get(EMAIL_COOKIE, { signed: true }) || undefined;
}

/** Also used by sign-up: after activation the login continues at the password step. */
export function setEmailCookie(ctx: Context, deps: PageDeps, uid: string, email: string | null): void {
  ctx.cookies.set(EMAIL_COOKIE, email, {
    signed: true,
    httpOnly: true,
    sameSite: 'lax',
    secure: secureCookies(deps.config),
    path: `/interaction/${uid}`,
    maxAge: deps.config.ttl.interaction * 1000,
    overwrite: true,
  });
}

function assertLoginPrompt(interaction: Interaction): void {
  if (interaction.prompt.name !== 'login') throw new AppError('INTERACTION_EXPIRED', 400);
}

async function renderEmailStep(ctx: Context, deps: InteractionDeps, interaction: Interaction,
  email: string, error?: AppError, notice?: string): Promise<void> {
  renderPage(ctx, deps, 'interaction/email', {
    title: 'login.title',
    uid: interaction.uid,
    email,
    clientName: await clientName(deps, interaction.params.client_id),
    errorKey: error && `errors.${error.code}`,
    errorParams: error?.params,
    notice,
  }, { status: error?.status ?? 200, uiLocales: interaction.params.ui_locales, form: true });
}

async function renderPasswordStep(ctx: Context, deps: InteractionDeps, interaction: Interaction,
  email: string, error?: AppError): Promise<void> {
  renderPage(ctx, deps, 'interaction/password', {
    title: 'login.title',
    uid: interaction.uid,
    email,
    clientName: await clientName(deps, interaction.params.client_id),
    errorKey: error && `errors.${error.code}`,
    errorParams: error?.params,
    notice: !error && ctx.query.activated !== undefined ? 'signup.activatedNotice' : undefined,
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
  ctx.status = 303;
  ctx.redirect(withLang(ctx, `/interaction/${interaction.uid}/password`));
}

export async function showPasswordStep(ctx: Context, deps: InteractionDeps): Promise<void> {
  const interaction = await deps.provider.interactionDetails(ctx.req, ctx.res);
  assertLoginPrompt(interaction);
  const email = emailCookie(ctx);
  if (!email) {
    ctx.status = 303;
    return ctx.redirect(withLang(ctx, `/interaction/${interaction.uid}`));
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
    ctx.status = 303;
    return ctx.redirect(withLang(ctx, `/interaction/${interaction.uid}`));
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

  await recordAudit(deps.db, { type: 'login.succeeded', accountId: account.id, clientId, details: { amr: ['pwd'] } }, ctx);
  const returnTo = await deps.provider.interactionResult(ctx.req, ctx.res, {
    login: { accountId: account.id, amr: ['pwd'], acr: ACR.password, remember: true },
  }, { mergeWithLastSubmission: false });
  setEmailCookie(ctx, deps, interaction.uid, null);
  ctx.status = 303;
  ctx.redirect(returnTo);
}
