import type { Context } from 'koa';
import type { AccountRow, MfaFactorRow } from '../db/schema.js';
import { AppError } from '../errors.js';
import { z } from 'zod';
import { checkbox, parseForm, text } from '../http/form.js';
import { errorMessage, renderPage, seeOther, setSignedCookie } from '../http/page.js';
import { readSealedCookie, setSealedCookie, type SealedCookie } from '../http/sealed-cookie.js';
import { accountCompanyRequiresMfa, findAccountById, type LoginFacts } from '../identity/accounts/repository.js';
import {
  finishSetup,
  proveSecondFactor,
  startDuoSetup,
  startTotpSetup,
  type SecondFactorProof,
} from '../identity/factors/mfa.js';
import { isRememberedBrowser, rememberBrowser } from '../identity/factors/remembered-browsers.js';
import { activeFactor, pendingFactor } from '../identity/factors/repository.js';
import { totpSetupView } from '../identity/factors/setup-view.js';
import { countPasskeys } from '../identity/passkeys/repository.js';
import { authenticationOptions, verifyPasskey } from '../identity/passkeys/webauthn.js';
import { ACR, AMR, phishingResistant, requestsMfa } from '../oidc/acr.js';
import { recordAudit } from '../security/audit.js';
import { withLang } from '../http/url.js';
import { clientName, interactionMeta, type InteractionDeps } from './context.js';
import { renderEmailStep } from './email-step.js';
import { assertLoginPrompt } from './finish.js';
import { finishPasswordLogin } from './passkey-offer.js';
import { progressOf, saveProgress, type Interaction } from './interaction-state.js';

const interactionPath = (uid: string) => `/interaction/${uid}`;

// "Remember this browser": a random token whose hash is stored (revocable on the security page).
export const REMEMBER_COOKIE = 'monban_mfa_browser';

/**
 * Whether this login needs a second step: the account has a factor (unless this browser is
 * remembered and MFA was not demanded), or MFA was demanded and the account must set a factor
 * up first. Demanded: by the relying party (acr_values), or by a company the account belongs
 * to ("require two-step verification", issue 15), which then works exactly like acr_values.
 */
export async function needsSecondFactor(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  /** What the caller read with the account already (findAccountForLogin). */
  known?: Pick<LoginFacts, 'has_active_factor' | 'company_requires_mfa'>,
): Promise<boolean> {
  // Issue 17's company policy: a password never ends the login; a remembered browser does not skip it.
  if (account.require_phishing_resistant) return true;
  const accountId = account.id;
  const demanded =
    requestsMfa(interaction.params) ||
    (known?.company_requires_mfa ?? (await accountCompanyRequiresMfa(deps.db, accountId)));
  const hasFactor = known?.has_active_factor ?? (await activeFactor(deps.db, accountId)) !== undefined;
  if (!hasFactor) return demanded;
  if (demanded || deps.config.mfa.rememberBrowserDays === 0) return true;
  return !(await isRememberedBrowser(deps.db, accountId, ctx.cookies.get(REMEMBER_COOKIE, { signed: true })));
}

/** L3: the password was right; the second factor is due within mfa.stepSeconds. */
export async function beginSecondFactor(
  ctx: Context,
  interaction: Interaction,
  email: string,
  accountId: string,
): Promise<void> {
  await saveProgress(interaction, { email, passwordPassed: { accountId, at: Date.now() } });
  seeOther(ctx, withLang(ctx, `${interactionPath(interaction.uid)}/mfa`));
}

/** The account whose password was just right in this interaction, if that was recent enough. */
async function passwordPassed(deps: InteractionDeps, interaction: Interaction): Promise<AccountRow | undefined> {
  const passed = progressOf(interaction).passwordPassed;
  if (!passed || !(Date.now() - passed.at < deps.config.mfa.stepSeconds * 1000)) return undefined;
  const account = await findAccountById(deps.db, passed.accountId);
  return account?.status === 'active' ? account : undefined;
}

type Step = (ctx: Context, deps: InteractionDeps, interaction: Interaction, account: AccountRow) => Promise<void>;

/** Every second-factor route: a login interaction whose password step was passed, else start over. */
export function secondStep(step: Step) {
  return async (ctx: Context, deps: InteractionDeps, interaction: Interaction): Promise<void> => {
    assertLoginPrompt(interaction);
    const account = await passwordPassed(deps, interaction);
    if (!account) {
      const { email = '' } = progressOf(interaction);
      return renderEmailStep(ctx, deps, interaction, email, new AppError('MFA_STEP_EXPIRED'));
    }
    await step(ctx, deps, interaction, account);
  };
}

async function renderStep(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  view: string,
  data: Record<string, unknown>,
  error?: AppError,
  languagePath?: string,
): Promise<void> {
  ctx.set('cache-control', 'no-store');
  renderPage(
    ctx,
    deps,
    view,
    {
      title: 'mfa.title',
      uid: interaction.uid,
      clientName: await clientName(deps, interaction.params.client_id),
      rememberDays: deps.config.mfa.rememberBrowserDays || undefined,
      ...errorMessage(error),
      ...data,
    },
    { status: error?.status ?? 200, uiLocales: interaction.params.ui_locales, form: true, languagePath },
  );
}

/**
 * The second-factor page: the account's passkeys and security keys (any of its factors passes
 * the step; the user picks), a code field (authenticator app) or the Duo button, and recovery codes.
 */
async function renderChallenge(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  factor: MfaFactorRow | undefined,
  error?: AppError,
): Promise<void> {
  const base = `${interactionPath(interaction.uid)}/mfa`;
  // Under the company policy only a passkey or security key passes (codes and Duo can be phished).
  if (account.require_phishing_resistant) factor = undefined;
  const recovery =
    factor !== undefined &&
    (ctx.query.recovery !== undefined || error?.code === 'RECOVERY_CODE_WRONG' || error?.code === 'DUO_UNAVAILABLE');
  await renderStep(
    ctx,
    deps,
    interaction,
    'interaction/mfa',
    {
      email: account.email,
      base,
      totp: factor?.kind === 'totp',
      duo: factor?.kind === 'duo',
      passkey: (await countPasskeys(deps.db, account.id)) > 0,
      // Recovery codes come with an authenticator app or Duo; an account with only passkeys has none.
      noRecoveryCodes: factor === undefined,
      recovery,
      passkeyScripts: true,
      notice: account.require_phishing_resistant ? 'mfa.passkeyRequired' : undefined,
    },
    error,
    recovery ? `${base}?recovery=1` : base,
  );
}

export const showChallenge: Step = async (ctx, deps, interaction, account) => {
  const factor = await activeFactor(deps.db, account.id);
  if (account.require_phishing_resistant) {
    if ((await countPasskeys(deps.db, account.id)) === 0) return refusePolicy(ctx, deps, interaction, account);
  } else if (!factor && (await countPasskeys(deps.db, account.id)) === 0) {
    return seeOther(ctx, withLang(ctx, `${interactionPath(interaction.uid)}/mfa/setup`));
  }
  await renderChallenge(ctx, deps, interaction, account, factor);
};

/**
 * The company requires a passkey or security key and the account has none: the login cannot be
 * finished here (adding one in the console needs a login too), so the page says why and whom to ask.
 */
async function refusePolicy(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
): Promise<void> {
  await recordAudit(
    deps.db,
    {
      type: 'login.refused',
      accountId: account.id,
      clientId: String(interaction.params.client_id),
      details: { reason: 'phishing_resistant_required' },
    },
    interactionMeta(ctx, deps, interaction),
  );
  await renderStep(
    ctx,
    deps,
    interaction,
    'interaction/mfa',
    { email: account.email, base: `${interactionPath(interaction.uid)}/mfa`, noRecoveryCodes: true },
    new AppError('PHISHING_RESISTANT_REQUIRED'),
  );
}

/** Codes, Duo and setting one up do not pass the step under the company policy. */
const codesAllowed = (account: AccountRow) => !account.require_phishing_resistant;

/** A second step's challenges serve only that interaction (apart from the passkey-only login's). */
const secondStepBinding = (uid: string) => `mfa:${uid}`;

/** POST /interaction/:uid/mfa/passkey/options: options naming the account's own passkeys and keys. */
export const passkeyStepOptions: Step = async (ctx, deps, interaction, account) => {
  ctx.set('cache-control', 'no-store');
  ctx.body = await authenticationOptions(deps.passkeys, secondStepBinding(interaction.uid), account);
};

/**
 * POST /interaction/:uid/mfa/passkey: a passkey or security key after the password. Counted by
 * the second-factor throttle like a code, before any signature is checked; only the account's
 * own credentials pass. The RP gets pwd, hwk|swk (RFC 8176: a key bound to one device, or a
 * synced one), user (when the authenticator verified its user) and mfa.
 */
export const submitPasskeyStep: Step = async (ctx, deps, interaction, account) => {
  const meta = interactionMeta(ctx, deps, interaction);
  let amr: string[];
  try {
    const login = await verifyPasskey(
      deps.passkeys,
      deps.secondFactorThrottle,
      secondStepBinding(interaction.uid),
      parseForm(ctx, passkeyForm).response,
      meta,
      { accountId: account.id },
    );
    amr = ['pwd', ...login.amr, 'mfa'];
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return renderChallenge(ctx, deps, interaction, account, await activeFactor(deps.db, account.id), err);
  }
  seeOther(ctx, await passed(ctx, deps, interaction, account, amr, rememberTicked(ctx)));
};

/** The factor is passed: remember the browser if asked, then finish the login with MFA. */
async function passed(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  amr: readonly string[],
  remember: boolean,
): Promise<string> {
  // Whatever route got here, the company policy takes only a passkey or security key.
  if (account.require_phishing_resistant && !phishingResistant(amr)) throw new AppError('PHISHING_RESISTANT_REQUIRED');
  const days = deps.config.mfa.rememberBrowserDays;
  if (days > 0 && remember) {
    const token = await rememberBrowser(deps.db, account.id, days, interactionMeta(ctx, deps, interaction));
    setSignedCookie(ctx, deps.config, REMEMBER_COOKIE, token, { path: '/interaction', maxAgeMs: days * 86_400_000 });
  }
  const withPasskey = phishingResistant(amr) ? { has_passkey: true } : {};
  return finishPasswordLogin(ctx, deps, interaction, { ...account, ...withPasskey }, amr, ACR.mfa);
}

/** L3: the authenticator's code, with "remember this browser" (sent as 1 when ticked). */
const codeForm = z.object({ code: text(64), remember: checkbox('1') });
/** L3: a recovery code instead. */
const recoveryCodeForm = z.object({ recovery_code: text(64), remember: checkbox('1') });
/** A passkey as the second step: the authenticator's answer (JSON, bounded by the body limit). */
const passkeyForm = z.object({ response: text(200_000) });
/** The second factor chosen at the setup during a login. */
const setupForm = z.object({ method: text(10) });

const rememberTicked = (ctx: Context) => parseForm(ctx, codeForm).remember;

/**
 * Checks a code (second-factor throttle included); a refusal is audited and returns it to
 * show, a pass returns undefined.
 */
async function refusal(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  factor: MfaFactorRow,
  proof: SecondFactorProof,
  auditWrong: boolean,
): Promise<AppError | undefined> {
  try {
    const meta = interactionMeta(ctx, deps, interaction);
    await proveSecondFactor(deps, deps.secondFactorThrottle, factor, proof, meta, { wrong: auditWrong });
    return undefined;
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return err;
  }
}

async function submitProof(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  factor: MfaFactorRow,
  proof: SecondFactorProof,
  amr: readonly string[],
): Promise<void> {
  const refused = await refusal(ctx, deps, interaction, factor, proof, true);
  if (refused) return renderChallenge(ctx, deps, interaction, account, factor, refused);
  seeOther(ctx, await passed(ctx, deps, interaction, account, amr, rememberTicked(ctx)));
}

export const submitTotp: Step = async (ctx, deps, interaction, account) => {
  const factor = await activeFactor(deps.db, account.id);
  if (factor?.kind !== 'totp' || !codesAllowed(account)) return showChallenge(ctx, deps, interaction, account);
  await submitProof(ctx, deps, interaction, account, factor, { totp: parseForm(ctx, codeForm).code }, AMR.totp);
};

export const submitRecoveryCode: Step = async (ctx, deps, interaction, account) => {
  const factor = await activeFactor(deps.db, account.id);
  if (!factor || !codesAllowed(account)) return showChallenge(ctx, deps, interaction, account);
  await submitProof(
    ctx,
    deps,
    interaction,
    account,
    factor,
    { recoveryCode: parseForm(ctx, recoveryCodeForm).recovery_code },
    AMR.recoveryCode,
  );
};

/** The login's trip to Duo: bound to this interaction, for the account whose password was right. */
const duoTrip = (deps: InteractionDeps, interaction: Interaction, account: AccountRow) => ({
  callbackUrl: `${deps.config.issuer}${interactionPath(interaction.uid)}/mfa/duo/callback`,
  username: account.email,
  boundTo: interaction.uid,
});

/** Off to Duo's prompt, after its health check; when Duo is down the login fails closed. */
async function goToDuo(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  purpose: 'login' | 'setup',
): Promise<void> {
  const { url, pending } = await deps.duo.start(duoTrip(deps, interaction, account), {
    purpose,
    remember: rememberTicked(ctx),
  });
  await saveProgress(interaction, { ...progressOf(interaction), duo: pending });
  seeOther(ctx, url);
}

export const startDuo: Step = async (ctx, deps, interaction, account) => {
  const factor = await activeFactor(deps.db, account.id);
  if (factor?.kind !== 'duo' || !codesAllowed(account)) return showChallenge(ctx, deps, interaction, account);
  try {
    await goToDuo(ctx, deps, interaction, account, 'login');
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    await recordAudit(
      deps.db,
      { type: 'mfa.failed', accountId: account.id, details: { kind: 'duo', reason: 'unavailable' } },
      interactionMeta(ctx, deps, interaction),
    );
    await renderChallenge(ctx, deps, interaction, account, factor, err);
  }
};

/** Back from Duo: the state must be this browser's, and Duo must have approved this account. */
export const duoCallback: Step = async (ctx, deps, interaction, account) => {
  const { duo: kept, ...progress } = progressOf(interaction);
  const { approved, pending } = await deps.duo.finish(duoTrip(deps, interaction, account), kept, ctx.query);
  const purpose = pending?.purpose;
  if (!approved) {
    // The trip is used once.
    if (kept) await saveProgress(interaction, progress);
    await recordAudit(
      deps.db,
      { type: 'mfa.failed', accountId: account.id, details: { kind: 'duo' } },
      interactionMeta(ctx, deps, interaction),
    );
    if (purpose === 'setup') return renderSetupChoice(ctx, deps, interaction, new AppError('DUO_DENIED'));
    return renderChallenge(
      ctx,
      deps,
      interaction,
      account,
      await activeFactor(deps.db, account.id),
      new AppError('DUO_DENIED'),
    );
  }
  if (purpose === 'setup') {
    const factor = await pendingFactor(deps.db, account.id, 'duo');
    const codes =
      factor &&
      (await finishSetup(deps, account, factor, interactionMeta(ctx, deps, interaction), interaction.session?.cookie));
    if (!codes) {
      await saveProgress(interaction, progress);
      return renderSetupChoice(ctx, deps, interaction, new AppError('MFA_SETUP_EXPIRED'));
    }
    return showRecoveryCodes(ctx, deps, interaction, account, codes, AMR.duo);
  }
  seeOther(ctx, await passed(ctx, deps, interaction, account, AMR.duo, pending?.remember === true));
};

// An RP (acr_values) or a company of the account demanded MFA and the account has none: it
// sets one up before going on. Without acr_values it was the company.
async function renderSetupChoice(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  error?: AppError,
): Promise<void> {
  await renderStep(
    ctx,
    deps,
    interaction,
    'interaction/mfa-setup',
    { duoEnabled: deps.duo.enabled, byCompany: !requestsMfa(interaction.params) },
    error,
  );
}

export const showSetup: Step = async (ctx, deps, interaction, account) => {
  if (!codesAllowed(account) || (await activeFactor(deps.db, account.id)))
    return showChallenge(ctx, deps, interaction, account);
  await renderSetupChoice(ctx, deps, interaction);
};

export const chooseSetup: Step = async (ctx, deps, interaction, account) => {
  if (!codesAllowed(account) || (await activeFactor(deps.db, account.id)))
    return showChallenge(ctx, deps, interaction, account);
  const { method } = parseForm(ctx, setupForm);
  if (method === 'totp') {
    await startTotpSetup(deps, account);
    return seeOther(ctx, withLang(ctx, `${interactionPath(interaction.uid)}/mfa/setup/totp`));
  }
  if (method === 'duo' && deps.duo.enabled) {
    await startDuoSetup(deps, account);
    try {
      return await goToDuo(ctx, deps, interaction, account, 'setup');
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return renderSetupChoice(ctx, deps, interaction, err);
    }
  }
  await renderSetupChoice(ctx, deps, interaction, new AppError('MFA_METHOD_REQUIRED'));
};

async function renderTotpSetup(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  error?: AppError,
): Promise<void> {
  const pending = await pendingFactor(deps.db, account.id, 'totp');
  if (!pending) return seeOther(ctx, withLang(ctx, `${interactionPath(interaction.uid)}/mfa/setup`));
  await renderStep(
    ctx,
    deps,
    interaction,
    'interaction/mfa-totp-setup',
    await totpSetupView(deps.box, account, pending),
    error,
  );
}

export const showTotpSetup: Step = (ctx, deps, interaction, account) =>
  renderTotpSetup(ctx, deps, interaction, account);

export const confirmTotpSetup: Step = async (ctx, deps, interaction, account) => {
  const pending = await pendingFactor(deps.db, account.id, 'totp');
  if (!pending) return renderSetupChoice(ctx, deps, interaction, new AppError('MFA_SETUP_EXPIRED'));
  const refused = await refusal(ctx, deps, interaction, pending, { totp: parseForm(ctx, codeForm).code }, false);
  if (refused) return renderTotpSetup(ctx, deps, interaction, account, refused);
  const codes = await finishSetup(
    deps,
    account,
    pending,
    interactionMeta(ctx, deps, interaction),
    interaction.session?.cookie,
  );
  if (!codes) return renderSetupChoice(ctx, deps, interaction, new AppError('MFA_SETUP_EXPIRED'));
  await showRecoveryCodes(ctx, deps, interaction, account, codes, AMR.totp);
};

/**
 * The recovery codes of a factor set up during the login wait, sealed to this interaction, in a
 * cookie of their page: a reload or a switch of language shows them again, until the user goes on.
 */
const codesCookie = (uid: string, deps: InteractionDeps): SealedCookie => ({
  name: 'monban_login_codes',
  path: `${interactionPath(uid)}/mfa/codes`,
  context: `login-recovery-codes:${uid}`,
  maxAgeMs: deps.config.ttl.interaction * 1000,
});

/** Set up during the login: the login is finished now, and the codes are shown once before going on. */
async function showRecoveryCodes(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
  account: AccountRow,
  codes: string[],
  amr: readonly string[],
): Promise<void> {
  const continueUrl = await passed(ctx, deps, interaction, account, amr, false);
  setSealedCookie(ctx, deps.config, deps.box, codesCookie(interaction.uid, deps), { codes, continueUrl });
  seeOther(ctx, withLang(ctx, `${interactionPath(interaction.uid)}/mfa/codes`));
}

/** GET /interaction/:uid/mfa/codes: the codes just made, and the way on to the application. */
export async function showLoginRecoveryCodes(
  ctx: Context,
  deps: InteractionDeps,
  interaction: Interaction,
): Promise<void> {
  const shown = readSealedCookie(ctx, deps.box, codesCookie(interaction.uid, deps)) as
    { codes: string[]; continueUrl: string } | undefined;
  if (!Array.isArray(shown?.codes)) throw new AppError('INTERACTION_EXPIRED');
  await renderStep(ctx, deps, interaction, 'interaction/mfa-recovery-codes', shown);
}
