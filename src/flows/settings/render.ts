import type { Context } from 'koa';
import { AppError, FormError } from '../../errors.js';
import { errorList, renderPage, seeOther } from '../../http/page.js';
import { signedIn, type SettingsDeps } from './context.js';
import { hasFreshReauth } from './reauth.js';

export type Section = 'home' | 'personal' | 'company' | 'security' | 'communication';

/**
 * The address of each console page. A page shown again after a form (with its problems) keeps
 * this address in its language menu, so switching language never sends the form again.
 */
const PAGE_PATH: Record<string, string> = {
  'account/home': '/account',
  'account/personal': '/account/personal',
  'account/email-request': '/account/personal/email',
  'account/company': '/account/company',
  'account/communication': '/account/communication',
  'account/security': '/account/security',
  'account/password': '/account/security/password',
  'account/phone': '/account/security/phone',
  'account/phone-verify': '/account/security/phone/verify',
  'account/mfa-choose': '/account/security/mfa',
  'account/mfa-totp': '/account/security/mfa/totp',
  'account/mfa-codes': '/account/security/mfa/codes',
  'account/passkey-add': '/account/security/passkeys/new',
};

/** The notices a finished form can ask for (?done=); anything else in the address is ignored. */
const DONE = [
  'saved',
  'phone-added',
  'phone-removed',
  'session-ended',
  'others-ended',
  'app-revoked',
  'mfa-off',
  'browser-forgotten',
  'passkey-added',
  'passkey-renamed',
  'passkey-removed',
  'request-sent',
] as const;
export type Done = (typeof DONE)[number];

/** Every console page: the account, its navigation, and whether security forms need the password. */
export function renderAccountPage(
  ctx: Context,
  deps: SettingsDeps,
  view: string,
  section: Section,
  data: Record<string, unknown> = {},
  error?: AppError | FormError,
  status = error?.status ?? 200,
): void {
  const current = signedIn(ctx);
  renderPage(
    ctx,
    deps,
    view,
    {
      title: `account.${section}.title`,
      account: current.account,
      section,
      needsPassword: !hasFreshReauth(ctx, deps, current),
      errors: errorList(error),
      done: (DONE as readonly unknown[]).includes(ctx.query.done)
        ? `account.done.${ctx.query.done as string}`
        : undefined,
      ...data,
    },
    {
      status,
      form: true,
      languagePath: PAGE_PATH[view] ?? '/account',
      timeZone: current.account.zoneinfo,
    },
  );
}

/** Runs a form handler; known problems re-render the page with their messages, nothing saved. */
export async function handleForm(
  ctx: Context,
  work: () => Promise<void>,
  rerender: (error: AppError | FormError) => Promise<void> | void,
): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (err instanceof AppError || err instanceof FormError) return rerender(err);
    throw err;
  }
}

export function done(ctx: Context, path: string, what: Done): void {
  seeOther(ctx, `${path}?done=${what}`);
}
