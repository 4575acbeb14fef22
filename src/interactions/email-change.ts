import type { Context } from 'koa';
import { z } from 'zod';
import type { AccountRow } from '../db/schema.js';
import { AppError } from '../errors.js';
import { parseForm, text } from '../http/form.js';
import { errorMessage, renderPage, seeOther } from '../http/page.js';
import { withLang } from '../http/url.js';
import { confirmEmailChange, pendingEmailChange, resendEmailChange } from '../identity/companies/email-change.js';
import { findAccountById } from '../identity/accounts/repository.js';
import { maskEmail } from '../text/format.js';
import { recordAudit } from '../security/audit.js';
import type { RequestMeta } from '../request-meta.js';
import { ACR, AMR } from '../oidc/acr.js';
import { clientName, interactionMeta, type InteractionDeps } from './context.js';
import { renderEmailStep } from './email-step.js';
import { assertLoginPrompt, completeLogin } from './finish.js';
import { progressOf, saveProgress, type Interaction } from './interaction-state.js';
import { finishPasswordLogin } from './passkey-offer.js';
import { beginSecondFactor, needsSecondFactor } from './second-factor.js';

/**
 * The login of an account its company put on hold to change its address (M3, M4): after the right
 * password or a passkey (never before: a wrong one is answered as for any account), the member is told in
 * general terms that the address is being changed and asked for the code sent to the new address,
 * shown masked. The right code changes the address, ends the hold and every session and token,
 * and the login goes on as the new address: the second factor if due, then the RP.
 */
const stepPath = (uid: string) => `/interaction/${uid}/email-change`;

const codeForm = z.object({ code: text(32, { trim: true }) });

/** The password was right and the account waits for its code: on to the code step. */
export async function beginEmailChangeStep(
  ctx: Context,
  interaction: Interaction,
  email: string,
  accountId: string,
  /** After a passkey instead of the password: the methods the login finishes with. */
  passkeyAmr?: readonly string[],
): Promise<void> {
  const emailChange = { accountId, at: Date.now(), ...(passkeyAmr ? { passkeyAmr: [...passkeyAmr] } : {}) };
  await saveProgress(interaction, { email, emailChange });
  seeOther(ctx, withLang(ctx, stepPath(interaction.uid)));
}

/**
 * After a right password or passkey: an account held for an address change goes to the code
 * step (recorded as a refused login, L5); true when it did. `passkeyAmr` after a passkey.
 */
export async function continueHeldForEmailChange(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  login: { account: AccountRow; email: string; clientId: string; meta: RequestMeta; passkeyAmr?: readonly string[] },
): Promise<boolean> {
  const { account } = login;
  if (account.status !== 'on_hold' || !(await pendingEmailChange(deps.db, account.id))) return false;
  await recordAudit(
    deps.db,
    {
      type: 'login.refused',
      accountId: account.id,
      clientId: login.clientId,
      details: { status: account.status, email_change: true, ...(login.passkeyAmr ? { passkey: true } : {}) },
    },
    login.meta,
  );
  await beginEmailChangeStep(ctx, interaction, login.email, account.id, login.passkeyAmr);
  return true;
}

/** The held account whose password was right in this interaction, within the interaction's lifetime. */
async function heldAccount(deps: InteractionDeps, interaction: Interaction): Promise<AccountRow | undefined> {
  const passed = progressOf(interaction).emailChange;
  if (!passed) return undefined;
  const account = await findAccountById(deps.db, passed.accountId);
  return account?.status === 'on_hold' ? account : undefined;
}

async function renderStep(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  options: { error?: AppError | undefined; notice?: string | undefined } = {},
): Promise<void> {
  const pending = await pendingEmailChange(deps.db, account.id);
  if (!pending) throw new AppError('INTERACTION_EXPIRED');
  ctx.set('cache-control', 'no-store');
  renderPage(
    ctx,
    deps,
    'interaction/email-change',
    {
      title: 'login.emailChangeTitle',
      uid: interaction.uid,
      email: account.email,
      newEmail: maskEmail(pending.new_email),
      clientName: await clientName(deps, interaction.params.client_id),
      notice: options.notice,
      ...errorMessage(options.error),
    },
    { status: options.error?.status ?? 200, uiLocales: interaction.params.ui_locales, form: true },
  );
}

type Step = (ctx: Context, deps: InteractionDeps, interaction: Interaction, account: AccountRow) => Promise<void>;

/** Every route of the step: a login whose password step found the account waiting for its code, else start over. */
export function emailChangeStep(step: Step) {
  return async (ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> => {
    assertLoginPrompt(interaction);
    const account = await heldAccount(deps, interaction);
    if (!account || !(await pendingEmailChange(deps.db, account.id))) {
      const { email = '' } = progressOf(interaction);
      return renderEmailStep(ctx, deps, interaction, email, new AppError('MFA_STEP_EXPIRED'));
    }
    await step(ctx, deps, interaction, account);
  };
}

export const showEmailChange: Step = (ctx, deps, interaction, account) =>
  renderStep(ctx, deps, interaction, account, {
    notice: ctx.query.resent !== undefined ? 'login.emailChangeResent' : undefined,
  });

/** The code: right, the address changes and the login goes on as the new address. */
export const submitEmailChangeCode: Step = async (ctx, deps, interaction, account) => {
  const meta = interactionMeta(ctx, deps, interaction);
  let changed: AccountRow;
  try {
    changed = await confirmEmailChange(
      deps.emailChange,
      account.id,
      { code: parseForm(ctx, codeForm).code, device: deps.deviceTrust.nonceFor(meta.device, account.id) },
      meta,
    );
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    if (err.code === 'EMAIL_CHANGE_NOT_PENDING') throw new AppError('INTERACTION_EXPIRED');
    return renderStep(ctx, deps, interaction, account, { error: err });
  }
  deps.recentAccounts.remember(changed);
  // A passkey was already both factors (see passkey.ts); a password may still need its second.
  const passkeyAmr = progressOf(interaction).emailChange?.passkeyAmr;
  if (passkeyAmr) return completeLogin(ctx, deps, interaction, changed.id, passkeyAmr, ACR.mfa);
  if (await needsSecondFactor(ctx, deps, interaction, changed)) {
    return beginSecondFactor(ctx, interaction, changed.email, changed.id);
  }
  seeOther(ctx, await finishPasswordLogin(ctx, deps, interaction, changed, AMR.password, ACR.password));
};

/** A new code to the new address, counted against the account's mails. */
export const resendEmailChangeCode: Step = async (ctx, deps, interaction, account) => {
  const meta = interactionMeta(ctx, deps, interaction);
  try {
    await resendEmailChange(deps.emailChange, account.id, { actor: account.id, meta });
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return renderStep(ctx, deps, interaction, account, { error: err });
  }
  deps.mailQueued();
  seeOther(ctx, withLang(ctx, stepPath(interaction.uid), { resent: '1' }));
};
