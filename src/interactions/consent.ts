import type { Context } from 'koa';
import { AppError } from '../http/errors.js';
import { renderPage, seeOther } from '../http/page.js';
import { recordAudit } from '../security/audit.js';
import { clientName, type Interaction, type InteractionDeps } from './context.js';

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

export async function showConsent(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  const details = interaction.prompt.details as ConsentDetails;
  const scopes = (details.missingOIDCScope ?? []).filter((s) => s !== 'openid');
  renderPage(ctx, deps, 'interaction/consent', {
    title: 'consent.title',
    uid: interaction.uid,
    clientName: await clientName(deps, interaction.params.client_id),
    scopes: scopes.map((scope) => ({ key: `consent.scopes.${scope}` })),
  }, { uiLocales: interaction.params.ui_locales, form: true });
}

/** Records what the user agreed to in a Grant and resumes the authorization request. */
export async function grantConsent(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  if (interaction.prompt.name !== 'consent' || !interaction.session) throw new AppError('INTERACTION_EXPIRED', 400);
  const details = interaction.prompt.details as ConsentDetails;
  const clientId = String(interaction.params.client_id);
  const grant = interaction.grantId
    ? await deps.provider.Grant.find(interaction.grantId)
    : new deps.provider.Grant({ accountId: interaction.session.accountId, clientId });
  if (!grant) throw new AppError('INTERACTION_EXPIRED', 400);
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await recordAudit(deps.db, {
    type: 'consent.granted', accountId: interaction.session.accountId, clientId,
    details: { scopes: details.missingOIDCScope ?? [] },
  }, ctx);
  const returnTo = await deps.provider.interactionResult(ctx.req, ctx.res, {
    consent: interaction.grantId ? {} : { grantId },
  }, { mergeWithLastSubmission: true });
  seeOther(ctx, returnTo);
}

export async function submitConsent(ctx: Context, deps: InteractionDeps): Promise<void> {
  await grantConsent(ctx, deps, await deps.provider.interactionDetails(ctx.req, ctx.res));
}

export async function abortInteraction(ctx: Context, deps: InteractionDeps): Promise<void> {
  await deps.provider.interactionDetails(ctx.req, ctx.res);
  const returnTo = await deps.provider.interactionResult(ctx.req, ctx.res, {
    error: 'access_denied',
    error_description: 'End-User aborted interaction',
  }, { mergeWithLastSubmission: false });
  seeOther(ctx, returnTo);
}
