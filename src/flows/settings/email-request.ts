import type { Context } from 'koa';
import { z } from 'zod';
import { AppError, FormError } from '../../errors.js';
import { parseForm, text } from '../../http/form.js';
import { requestMeta } from '../../http/request-meta.js';
import { openCaseOf, openEmailCase, REASON_MAX } from '../../identity/accounts/support-cases.js';
import { signedIn, type SettingsDeps } from './context.js';
import { done, handleForm, renderAccountPage } from './render.js';

const emailRequestForm = z.object({
  requested_email: text(1000),
  reason: text(REASON_MAX * 4),
});

/**
 * M2: a partner asks for a new address (a support case an operator resolves); everyone else is
 * shown the seed's guidance: a new account, or their company's administrator.
 */
export async function showEmailRequest(
  ctx: Context,
  deps: SettingsDeps,
  values?: Record<string, unknown>,
  error?: AppError | FormError,
): Promise<void> {
  const { account } = signedIn(ctx);
  const open = account.partner ? await openCaseOf(deps.db, account.id) : undefined;
  renderAccountPage(
    ctx,
    deps,
    'account/email-request',
    'personal',
    {
      title: 'account.emailRequest.title',
      partner: account.partner,
      open: open && { requested: open.requested_email, since: open.created_at },
      values: values ?? {},
      reasonMax: REASON_MAX,
    },
    error,
  );
}

export async function requestEmailChange(ctx: Context, deps: SettingsDeps): Promise<void> {
  const { account } = signedIn(ctx);
  const values = parseForm(ctx, emailRequestForm);
  await handleForm(
    ctx,
    async () => {
      await openEmailCase(
        deps,
        account.id,
        { requestedEmail: values.requested_email, reason: values.reason },
        requestMeta(ctx, deps.config),
      );
      deps.mailQueued();
      done(ctx, '/account/personal/email', 'request-sent');
    },
    (error) => showEmailRequest(ctx, deps, values, error),
  );
}
