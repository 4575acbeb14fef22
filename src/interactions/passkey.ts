import type { Context } from 'koa';
import { AppError } from '../errors.js';
import { z } from 'zod';
import { parseForm, text } from '../http/form.js';
import { authenticationOptions, verifyPasskey } from '../identity/passkeys/webauthn.js';
import { ACR } from '../oidc/acr.js';
import { recordAudit } from '../security/audit.js';
import { interactionMeta, type InteractionDeps } from './context.js';
import { renderEmailStep } from './email-step.js';
import { assertLoginPrompt, completeLogin } from './finish.js';
import { continueHeldForEmailChange } from './email-change.js';
import { progressOf, type Interaction } from './interaction-state.js';

/** A login's challenges serve only that interaction. */
const loginBinding = (uid: string) => `login:${uid}`;

/** The authenticator's answer to the login's challenge (JSON, bounded by the body limit). */
const passkeyForm = z.object({ response: text(200_000) });

const REFUSED_STATUS = {
  pending: 'ACCOUNT_PENDING',
  on_hold: 'ACCOUNT_ON_HOLD',
  disabled: 'ACCOUNT_DISABLED',
} as const;

/**
 * POST /interaction/:uid/passkey/options: options for navigator.credentials.get(), asked by the
 * email step's script (for the autofill and the button) so that a page view alone stores nothing.
 */
export async function passkeyLoginOptions(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
): Promise<void> {
  assertLoginPrompt(interaction);
  ctx.set('cache-control', 'no-store');
  ctx.body = await authenticationOptions(deps.passkeys, loginBinding(interaction.uid));
}

/**
 * POST /interaction/:uid/passkey: a passkey as the first and only factor. User verification is
 * required, so possession of the key and the user's PIN or biometric are two factors: the RP
 * gets amr hwk|swk, user, mfa (RFC 8176) and the MFA class. Refusals come back on the email step.
 */
export async function submitPasskeyLogin(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  assertLoginPrompt(interaction);
  const meta = interactionMeta(ctx, deps, interaction);
  const clientId = String(interaction.params.client_id);
  let login;
  try {
    login = await verifyPasskey(
      deps.passkeys,
      deps.passkeyThrottle,
      loginBinding(interaction.uid),
      parseForm(ctx, passkeyForm).response,
      meta,
    );
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return renderEmailStep(ctx, deps, interaction, progressOf(interaction).email ?? '', err);
  }
  const { account } = login;
  const amr = [...login.amr, 'mfa'];
  // As after a right password: the code from the new address ends the hold (M3, M4).
  const held = { account, email: account.email, clientId, meta, passkeyAmr: amr };
  if (await continueHeldForEmailChange(ctx, deps, interaction, held)) return;
  // As after a right password (L5, and the lock of NIST 800-63B 5.2.2 kept in PostgreSQL): a held,
  // disabled or pending account is told why in general terms, a locked one to use its unlock mail.
  const refused =
    account.status !== 'active' ? REFUSED_STATUS[account.status] : account.locked_at ? 'ACCOUNT_LOCKED' : undefined;
  if (refused) {
    await recordAudit(
      deps.db,
      {
        type: 'login.refused',
        accountId: account.id,
        clientId,
        details: { status: account.status, locked: account.locked_at !== null, passkey: true },
      },
      meta,
    );
    return renderEmailStep(ctx, deps, interaction, '', new AppError(refused));
  }
  deps.recentAccounts.remember(account);
  await completeLogin(ctx, deps, interaction, account.id, amr, ACR.mfa);
}
