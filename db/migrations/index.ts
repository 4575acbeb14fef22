import type { Migration } from 'kysely';
import * as initial from './2026_11_23_0900_initial.js';
import * as registration from './2026_11_23_2100_registration_and_courier.js';
import * as accountConsole from './2026_11_23_2200_account_console.js';
import * as mfaFactors from './2026_11_23_2300_mfa_factors.js';
import * as rememberedBrowsers from './2026_11_24_0000_remembered_browsers.js';
import * as attemptCounters from './2026_11_25_0100_attempt_counters.js';
import * as accountLock from './2026_11_25_0200_account_lock.js';
import * as outboxNotify from './2026_11_25_0300_outbox_notify.js';
import * as durableRevocation from './2026_11_25_0400_durable_revocation.js';
import * as adminApi from './2026_12_02_0100_admin_api.js';
import * as passkeys from './2026_12_02_0200_passkeys.js';
import * as companies from './2026_12_02_0300_companies.js';
import * as backchannelLogout from './2026_12_02_0400_backchannel_logout.js';
import * as resourceServers from './2026_12_02_0500_resource_servers.js';
import * as derivedKeys from './2026_12_02_0600_derived_keys.js';
import * as companyInvitations from './2026_12_02_0740_company_invitations.js';
import * as supportCases from './2026_12_02_1200_support_cases.js';
import * as emailChanges from './2026_12_02_1300_email_changes.js';
import * as companyRenames from './2026_12_02_1310_company_renames.js';
import * as rememberedConsent from './2026_12_02_1400_remembered_consent.js';
import * as lastConsentIndex from './2026_12_07_0700_last_consent_index.js';

/**
 * Every migration, in order. Listed statically (instead of read from the folder at run time) so
 * the same code runs under tsx, compiled JavaScript and Jest.
 */
export const migrations: Record<string, Migration> = {
  '2026_11_23_0900_initial': initial,
  '2026_11_23_2100_registration_and_courier': registration,
  '2026_11_23_2200_account_console': accountConsole,
  '2026_11_23_2300_mfa_factors': mfaFactors,
  '2026_11_24_0000_remembered_browsers': rememberedBrowsers,
  '2026_11_25_0100_attempt_counters': attemptCounters,
  '2026_11_25_0200_account_lock': accountLock,
  '2026_11_25_0300_outbox_notify': outboxNotify,
  '2026_11_25_0400_durable_revocation': durableRevocation,
  '2026_12_02_0100_admin_api': adminApi,
  '2026_12_02_0200_passkeys': passkeys,
  '2026_12_02_0300_companies': companies,
  '2026_12_02_0400_backchannel_logout': backchannelLogout,
  '2026_12_02_0500_resource_servers': resourceServers,
  '2026_12_02_0600_derived_keys': derivedKeys,
  '2026_12_02_0740_company_invitations': companyInvitations,
  '2026_12_02_1200_support_cases': supportCases,
  '2026_12_02_1300_email_changes': emailChanges,
  '2026_12_02_1310_company_renames': companyRenames,
  '2026_12_02_1400_remembered_consent': rememberedConsent,
  '2026_12_07_0700_last_consent_index': lastConsentIndex,
};
