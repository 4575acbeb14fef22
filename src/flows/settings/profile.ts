import type { Context } from 'koa';
import { FormError, type ErrorCode } from '../../errors.js';
import { isOffered, negotiateLocale } from '../../http/locale.js';
import { z } from 'zod';
import { checkbox, parseForm, text } from '../../http/form.js';
import { LANGUAGE_NAMES } from '../../http/page.js';
import { countryOptions, isCountryCode } from '../../identity/accounts/countries.js';
import { namesProblems } from '../../identity/accounts/names.js';
import { parsePhone } from '../../identity/accounts/phone.js';
import { updateAccount } from '../../identity/accounts/repository.js';
import { recordAudit } from '../../security/audit.js';
import { signedIn, type SettingsDeps } from './context.js';
import { done, handleForm, renderAccountPage } from './render.js';
import { requestMeta } from '../../http/request-meta.js';
import { codePointCount } from '../../text/code-points.js';
import { TIME_ZONES, timeZoneOptions } from '../../text/format.js';

function limited(value: string, max: number, problems: ErrorCode[]): string | null {
  const trimmed = value.trim();
  if (codePointCount(trimmed) > max && !problems.includes('FIELD_TOO_LONG')) problems.push('FIELD_TOO_LONG');
  return trimmed || null;
}

/** PR2: limits only; each field is checked below with its own message. */
const personalForm = z.object({
  given_name: text(1000),
  family_name: text(1000),
  country: text(100),
  locale: text(100),
  zoneinfo: text(100),
});
const companyForm = z.object({
  company_name: text(1000),
  job_title: text(1000),
  address: text(2000),
  business_phone: text(100),
});
/** PR7: the one opt-in; an unticked box is not sent at all. */
const communicationForm = z.object({ product_news: checkbox('yes') });

export function showPersonal(
  ctx: Context,
  deps: SettingsDeps,
  values?: Record<string, unknown>,
  error?: FormError,
): void {
  const { account } = signedIn(ctx);
  const locale = negotiateLocale(ctx, deps.config.locales);
  const current = values ?? {
    given_name: account.given_name,
    family_name: account.family_name,
    country: account.country,
    locale: account.locale,
    zoneinfo: account.zoneinfo,
  };
  renderAccountPage(
    ctx,
    deps,
    'account/personal',
    'personal',
    {
      values: current,
      countries: countryOptions(locale).map((c) => ({ ...c, selected: c.code === current.country })),
      // Named as people know them, "(UTC+09:00) 日本標準時 (東京)"; the value stays the IANA ID.
      timeZones: timeZoneOptions(locale).map((option) => ({ ...option, selected: option.zone === current.zoneinfo })),
      languageOptions: deps.config.locales.supported.map((offered) => ({
        locale: offered,
        label: LANGUAGE_NAMES[offered],
        selected: offered === current.locale,
      })),
    },
    error,
  );
}

/** PR2: name, country, language and time zone; the email address is never editable here (M1). */
export async function savePersonal(ctx: Context, deps: SettingsDeps): Promise<void> {
  const { account } = signedIn(ctx);
  const values = parseForm(ctx, personalForm);
  await handleForm(
    ctx,
    async () => {
      const problems: ErrorCode[] = namesProblems(values.given_name, values.family_name);
      if (!isCountryCode(values.country)) problems.push('COUNTRY_REQUIRED');
      if (!isOffered(deps.config.locales, values.locale)) problems.push('LOCALE_INVALID');
      if (values.zoneinfo && !TIME_ZONES.includes(values.zoneinfo)) problems.push('TIMEZONE_INVALID');
      if (problems.length) throw new FormError(problems);
      await updateAccount(deps.db, account.id, {
        given_name: values.given_name.trim(),
        family_name: values.family_name.trim(),
        country: values.country,
        locale: values.locale as 'ja' | 'en',
        zoneinfo: values.zoneinfo || null,
      });
      await recordAudit(
        deps.db,
        { type: 'profile.updated', accountId: account.id, details: { section: 'personal' } },
        requestMeta(ctx, deps.config),
      );
      done(ctx, '/account/personal', 'saved');
    },
    (error) => showPersonal(ctx, deps, values, error as FormError),
  );
}

export function showCompany(
  ctx: Context,
  deps: SettingsDeps,
  values?: Record<string, unknown>,
  error?: FormError,
): void {
  const { account } = signedIn(ctx);
  renderAccountPage(
    ctx,
    deps,
    'account/company',
    'company',
    {
      values: values ?? account,
      managed: account.company_managed,
    },
    error,
  );
}

/** PR2: company details, read-only once a company admin manages them. */
export async function saveCompany(ctx: Context, deps: SettingsDeps): Promise<void> {
  const { account } = signedIn(ctx);
  const values = parseForm(ctx, companyForm);
  await handleForm(
    ctx,
    async () => {
      if (account.company_managed) throw new FormError(['COMPANY_MANAGED']);
      const problems: ErrorCode[] = [];
      const changes = {
        company_name: limited(values.company_name, 200, problems),
        job_title: limited(values.job_title, 200, problems),
        address: limited(values.address, 500, problems),
        business_phone: null as string | null,
      };
      if (values.business_phone.trim()) {
        const parsed = parsePhone(values.business_phone, account.country ?? '', false);
        if ('problem' in parsed) problems.push(parsed.problem);
        else changes.business_phone = parsed.e164;
      }
      if (problems.length) throw new FormError(problems);
      await updateAccount(deps.db, account.id, changes);
      await recordAudit(
        deps.db,
        { type: 'profile.updated', accountId: account.id, details: { section: 'company' } },
        requestMeta(ctx, deps.config),
      );
      done(ctx, '/account/company', 'saved');
    },
    (error) => showCompany(ctx, deps, values, error as FormError),
  );
}

export function showCommunication(ctx: Context, deps: SettingsDeps): void {
  renderAccountPage(ctx, deps, 'account/communication', 'communication', {});
}

/** PR7: optional mail is opt-in; security notices cannot be switched off. */
export async function saveCommunication(ctx: Context, deps: SettingsDeps): Promise<void> {
  const { account } = signedIn(ctx);
  const { product_news: productNews } = parseForm(ctx, communicationForm);
  await updateAccount(deps.db, account.id, { product_news: productNews });
  await recordAudit(
    deps.db,
    { type: 'preferences.updated', accountId: account.id, details: { product_news: productNews } },
    requestMeta(ctx, deps.config),
  );
  done(ctx, '/account/communication', 'saved');
}
