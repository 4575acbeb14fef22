import type { Migration } from 'kysely';
import * as initial from './2026_11_23_0900_initial.js';
import * as registration from './2026_11_23_2100_registration_and_courier.js';
import * as accountConsole from './2026_11_23_2200_account_console.js';
import * as mfaFactors from './2026_11_23_2300_mfa_factors.js';
import * as rememberedBrowsers from './2026_11_24_0000_remembered_browsers.js';

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
};
