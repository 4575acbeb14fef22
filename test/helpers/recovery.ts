/**
 * The forgot-password pages (/recovery) from a test's side: a browser walks from the address to
 * the new password the way a user does, form by form.
 */
import { ENGLISH } from './account.js';
import { HttpClient, submitForm, type PageResponse } from './http-client.js';
import { codeIn, type MailCatcher } from './smtp.js';

/** Opens "Forgot password?" (optionally for a waiting login) and submits the address: the method page. */
export async function startReset(browser: HttpClient, issuer: string, email: string, interaction?: string): Promise<PageResponse> {
  const start = await browser.request(`${issuer}/recovery${interaction ? `?interaction=${interaction}` : ''}`);
  if (start.status !== 200) throw new Error(`GET /recovery answered ${start.status}`);
  const answer = await submitForm(browser, start, '/recovery', { email });
  if (!answer.location) return answer;
  return browser.follow(answer.location);
}

/** On the method page: asks for the code by email, or by SMS to `phone` ({ country, number }). */
export async function askForCode(browser: HttpClient, methodPage: PageResponse,
  how: { channel: 'email' } | { channel: 'sms'; country: string; number: string }): Promise<PageResponse> {
  const answer = await submitForm(browser, methodPage, '/recovery/method', { country: 'JP', number: '', ...how });
  if (!answer.location) return answer;
  return browser.follow(answer.location);
}

/** On the code page: enters `code`; the page it lands on (second factor, new password, or the code page again). */
export async function enterResetCode(browser: HttpClient, codePage: PageResponse, code: string): Promise<PageResponse> {
  const answer = await submitForm(browser, codePage, '/recovery/code', { code });
  if (!answer.location) return answer;
  return browser.follow(answer.location);
}

/** On the new-password page: the password twice. Returns the answer (not followed). */
export function chooseNewPassword(browser: HttpClient, passwordPage: PageResponse, password: string, confirmation = password): Promise<PageResponse> {
  return submitForm(browser, passwordPage, '/recovery/password', { password, password_confirmation: confirmation });
}

/** The whole reset by email for an account without MFA: the answer to the new password (a redirect to log in). */
export async function resetByEmail(browser: HttpClient, issuer: string, mail: MailCatcher, email: string, password: string, interaction?: string): Promise<PageResponse> {
  const method = await startReset(browser, issuer, email, interaction);
  const codePage = await askForCode(browser, method, { channel: 'email' });
  const code = codeIn(await mail.waitFor(email, (m) => /reset code|リセット/.test(m.subject)));
  const passwordPage = await enterResetCode(browser, codePage, code);
  return chooseNewPassword(browser, passwordPage, password);
}

export const englishBrowser = () => new HttpClient(ENGLISH);

export const isPage = (page: PageResponse, path: string) => page.status === 200 && new URL(page.url).pathname === path;
