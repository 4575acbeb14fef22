/**
 * Second factors from a test's side: an authenticator app (the independent otpauth package)
 * reading the secret off Monban's setup page, and the console forms that turn MFA on.
 */
import * as OTPAuth from 'otpauth';
import { TEST_PASSWORD } from './fixtures.js';
import { HttpClient, submitForm, unescapeHtml, type PageResponse } from './http-client.js';
import { landed, open } from './account.js';

/** The code an authenticator app shows, `steps` time steps from now (+1: the next 30 s). */
export function totpCode(base32: string, steps = 0, now = Date.now()): string {
  const totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(base32), digits: 6, period: 30, algorithm: 'SHA1' });
  return totp.generate({ timestamp: now + steps * 30_000 });
}

/** The key shown under the QR code, without the spaces between its groups. */
export function secretOnPage(page: PageResponse): string {
  const text = page.body.match(/<code id="totp-secret">([^<]*)<\/code>/)?.[1];
  if (!text) throw new Error(`no TOTP secret on ${page.url}`);
  return unescapeHtml(text).replace(/\s+/g, '');
}

/** The recovery codes listed on a page. */
export function recoveryCodesOnPage(page: PageResponse): string[] {
  const list = page.body.match(/<ol class="recovery-codes" id="recovery-codes">([\s\S]*?)<\/ol>/)?.[1] ?? '';
  return [...list.matchAll(/<code>([^<]+)<\/code>/g)].map((m) => m[1]!);
}

/**
 * Turns the authenticator app on from the security page of a signed-in browser: method and
 * password, then the code of the current step. Returns the secret and the recovery codes shown.
 */
export async function enableTotp(browser: HttpClient, issuer: string, password = TEST_PASSWORD): Promise<{ secret: string; recoveryCodes: string[] }> {
  const choice = await open(browser, issuer, '/account/security/mfa');
  const setup = await landed(browser, await submitForm(browser, choice, '/account/security/mfa', { method: 'totp', current_password: password }));
  const secret = secretOnPage(setup);
  const done = await submitForm(browser, setup, '/account/security/mfa/totp', { code: totpCode(secret) });
  if (done.status !== 200) throw new Error(`turning TOTP on answered ${done.status}`);
  return { secret, recoveryCodes: recoveryCodesOnPage(done) };
}
