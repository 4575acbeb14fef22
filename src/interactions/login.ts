import type { Context } from 'koa';
import { AppError } from '../errors.js';
import type { AccountRow } from '../db/schema.js';
import { z } from 'zod';
import { parseForm, password as passwordField } from '../http/form.js';
import { seeOther } from '../http/page.js';
import { withLang } from '../http/url.js';
import { findAccountForLogin } from '../identity/accounts/repository.js';
import { checkPassword } from '../identity/password/credential-check.js';
import { ACR, AMR } from '../oidc/acr.js';
import { recordAudit } from '../security/audit.js';
import { interactionMeta, type InteractionDeps } from './context.js';
import { assertLoginPrompt } from './finish.js';
import { finishPasswordLogin } from './passkey-offer.js';
import { progressOf, type Interaction } from './interaction-state.js';
import { renderPasswordStep } from './password-page.js';
import { beginSecondFactor, needsSecondFactor } from './second-factor.js';
import { continueHeldForEmailChange } from './email-change.js';

export async function showPasswordStep(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  assertLoginPrompt(interaction);
  const { email } = progressOf(interaction);
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

/** L2: the password (as typed: not trimmed). */
const passwordForm = z.object({ password: passwordField() });

/**
 * L2: one message for a wrong address or a wrong password, the same bcrypt work for both.
 * L5: why an account cannot log in is told only after the right password, so that a stranger
 * learns nothing about an address from it.
 */
export async function submitPassword(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  assertLoginPrompt(interaction);
  const { email } = progressOf(interaction);
  if (!email) {
    return seeOther(ctx, withLang(ctx, `/interaction/${interaction.uid}`));
  }
  const { password } = parseForm(ctx, passwordForm);
  if (!password) return renderPasswordStep(ctx, deps, interaction, email, new AppError('PASSWORD_REQUIRED'));
  const clientId = String(interaction.params.client_id);
  const meta = interactionMeta(ctx, deps, interaction);

  // The account, whether it has a second factor and whether its company requires one: one read.
  const known = await findAccountForLogin(deps.db, email, clientId);
  let account: AccountRow | undefined;
  try {
    account = await checkPassword(
      deps,
      { account: known, identifier: email, password, ip: meta.ip, device: meta.device },
      meta,
    );
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    await recordAudit(deps.db, { type: 'login.throttled', clientId, details: { reason: 'rate_limit' } }, meta);
    return renderPasswordStep(ctx, deps, interaction, email, err);
  }
  if (!account) {
    await recordAudit(deps.db, { type: 'login.failed', accountId: known?.id, clientId }, meta);
    return renderPasswordStep(ctx, deps, interaction, email, new AppError('LOGIN_FAILED'));
  }

  if (await continueHeldForEmailChange(ctx, deps, interaction, { account, email, clientId, meta })) return;
  if (account.status !== 'active') {
    await recordAudit(
      deps.db,
      { type: 'login.refused', accountId: account.id, clientId, details: { status: account.status } },
      meta,
    );
    return renderPasswordStep(ctx, deps, interaction, email, new AppError(REFUSED_STATUS[account.status]));
  }
  if (await needsSecondFactor(ctx, deps, interaction, account, known)) {
    return beginSecondFactor(ctx, interaction, email, account.id);
  }
  const consent = known?.last_consent;
  deps.recentAccounts.remember(account, consent ? { clientId, access: consent } : undefined);
  seeOther(ctx, await finishPasswordLogin(ctx, deps, interaction, known ?? account, AMR.password, ACR.password));
}
