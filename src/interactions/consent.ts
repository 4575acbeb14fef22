import type { Context } from 'koa';
import { AppError } from '../errors.js';
import { renderPage, seeOther } from '../http/page.js';
import { recordAuditWith } from '../security/audit.js';
import { clientName, interactionMeta, type InteractionDeps } from './context.js';
import { finishInteraction, type Interaction } from './interaction-state.js';

interface ConsentDetails {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

export async function showConsent(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  const details = interaction.prompt.details as ConsentDetails;
  const scopes = (details.missingOIDCScope ?? []).filter((s) => s !== 'openid');
  renderPage(
    ctx,
    deps,
    'interaction/consent',
    {
      title: 'consent.title',
      uid: interaction.uid,
      clientName: await clientName(deps, interaction.params.client_id),
      scopes: scopes.map((scope) => ({ key: `consent.scopes.${scope}` })),
    },
    { uiLocales: interaction.params.ui_locales, form: true },
  );
}

/** Records what the user agreed to in a Grant and resumes the authorization request. */
export async function grantConsent(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  if (interaction.prompt.name !== 'consent' || !interaction.session) throw new AppError('INTERACTION_EXPIRED');
  const details = interaction.prompt.details as ConsentDetails;
  const clientId = String(interaction.params.client_id);
  const grant = interaction.grantId
    ? await deps.provider.Grant.find(interaction.grantId)
    : new deps.provider.Grant({ accountId: interaction.session.accountId, clientId });
  if (!grant) throw new AppError('INTERACTION_EXPIRED');
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  // The grant's index row and the audit row go to PostgreSQL in one statement.
  const grantId = await recordAuditWith(
    deps.db,
    {
      type: 'consent.granted',
      accountId: interaction.session.accountId,
      clientId,
      details: { scopes: details.missingOIDCScope ?? [] },
    },
    interactionMeta(ctx, deps, interaction),
    () => grant.save(),
  );
  const returnTo = await finishInteraction(
    interaction,
    { consent: interaction.grantId ? {} : { grantId } },
    { mergeWithLastSubmission: true },
  );
  seeOther(ctx, returnTo);
}

export async function submitConsent(ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> {
  await grantConsent(ctx, deps, interaction);
}

export async function abortInteraction(ctx: Context, _deps: InteractionDeps, interaction: Interaction): Promise<void> {
  const returnTo = await finishInteraction(
    interaction,
    { error: 'access_denied', error_description: 'End-User aborted interaction' },
    { mergeWithLastSubmission: false },
  );
  seeOther(ctx, returnTo);
}
