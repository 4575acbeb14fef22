/**
 * The forgot-password pages (/recovery) from a test's side: a browser walks from the address to
 * the new password the way a user does, form by form.
 */
import { ENGLISH, open, openAndSubmit, smsCode } from './account.js';
import type { FakeDuo } from './fake-duo.js';
import type { CaughtSms, FakeSmsProvider } from './fake-sms.js';
import { messageText, TEST_PASSWORD } from './fixtures.js';
import { HttpClient, submitForm, unescapeHtml, type PageResponse } from './http-client.js';
import { pressOnDuoPrompt, recoveryCodesOnPage } from './mfa.js';
import { codeIn, type CaughtMail, type MailCatcher } from './smtp.js';

/** Opens "Forgot password?" (optionally for a waiting login) and submits the address: the method page. */
export async function startReset(
  browser: HttpClient,
  issuer: string,
  email: string,
  interaction?: string,
): Promise<PageResponse> {
  const start = await browser.request(`${issuer}/recovery${interaction ? `?interaction=${interaction}` : ''}`);
  if (start.status !== 200) throw new Error(`GET /recovery answered ${start.status}`);
  const answer = await submitForm(browser, start, '/recovery', { email });
  if (!answer.location) return answer;
  return browser.follow(answer.location);
}

/** On the method page: asks for the code by email, or by SMS to `phone` ({ country, number }). */
export async function askForCode(
  browser: HttpClient,
  methodPage: PageResponse,
  how: { channel: 'email' } | { channel: 'sms'; country: string; number: string },
): Promise<PageResponse> {
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
export function chooseNewPassword(
  browser: HttpClient,
  passwordPage: PageResponse,
  password: string,
  confirmation = password,
): Promise<PageResponse> {
  return submitForm(browser, passwordPage, '/recovery/password', { password, password_confirmation: confirmation });
}

/** A reset-code mail (in either language), not any other mail to the address. */
export function isResetMail(mail: CaughtMail): boolean {
  return (['en', 'ja'] as const).some((locale) =>
    mail.subject.startsWith(messageText(locale, 'emails.recoveryCode.subject').split('{{')[0]!),
  );
}

/** The code of the `index`-th (0: the first) reset mail to `email`, once it has arrived. */
export async function resetCodeByMail(mail: MailCatcher, email: string, index = 0): Promise<string> {
  return codeIn(
    await mail.waitFor(email, (m) => isResetMail(m) && mail.mailsTo(email).filter(isResetMail).indexOf(m) === index),
  );
}

/** A reset-code text message (in either language), not the number's verification message. */
export function isResetSms(sms: CaughtSms): boolean {
  return (['en', 'ja'] as const).some((locale) =>
    sms.body.startsWith(messageText(locale, 'sms.recoveryCode').split('{{')[0]!),
  );
}

/** The code of the `index`-th (0: the first) reset text message to `e164`, once it has arrived. */
export async function resetCodeBySms(sms: FakeSmsProvider, e164: string, index = 0): Promise<string> {
  return smsCode(
    await sms.waitFor(e164, (m) => isResetSms(m) && sms.messagesTo(e164).filter(isResetSms).indexOf(m) === index),
  );
}

/** From the address to the page after the emailed code (new password, or second factor with MFA). */
export async function pastTheCode(
  browser: HttpClient,
  issuer: string,
  mail: MailCatcher,
  email: string,
  interaction?: string,
): Promise<PageResponse> {
  const earlier = mail.mailsTo(email).filter(isResetMail).length;
  const codePage = await askForCode(browser, await startReset(browser, issuer, email, interaction), {
    channel: 'email',
  });
  return enterResetCode(browser, codePage, await resetCodeByMail(mail, email, earlier));
}

/** The whole reset by email for an account without MFA: the answer to the new password (a redirect to log in). */
export async function resetByEmail(
  browser: HttpClient,
  issuer: string,
  mail: MailCatcher,
  email: string,
  password: string,
  interaction?: string,
): Promise<PageResponse> {
  const method = await startReset(browser, issuer, email, interaction);
  const codePage = await askForCode(browser, method, { channel: 'email' });
  const code = codeIn(await mail.waitFor(email, isResetMail));
  const passwordPage = await enterResetCode(browser, codePage, code);
  return chooseNewPassword(browser, passwordPage, password);
}

export const englishBrowser = () => new HttpClient(ENGLISH);

export const isPage = (page: PageResponse, path: string) => page.status === 200 && new URL(page.url).pathname === path;

/**
 * How the code page shows a typed Japanese mobile number (+81 90/80/70 and eight digits): laid out
 * like the number, only the country code and the last four digits left.
 */
export const maskedNumber = (e164: string) => `+81 ** **** ${e164.slice(-4)}`;

/**
 * Adds a mobile number in the console of a signed-in browser and confirms it with the code the
 * fake SMS provider received: the number is then the account's verified number.
 */
export async function registerPhone(
  browser: HttpClient,
  issuer: string,
  sms: FakeSmsProvider,
  number: { national: string; e164: string },
  password = TEST_PASSWORD,
): Promise<void> {
  const started = await openAndSubmit(browser, issuer, '/account/security/phone', '/account/security/phone', {
    current_password: password,
    country: 'JP',
    number: number.national,
  });
  if (started.status !== 303) throw new Error(`adding the number answered ${started.status}`);
  const code = smsCode(await sms.waitFor(number.e164));
  const confirmed = await openAndSubmit(
    browser,
    issuer,
    '/account/security/phone/verify',
    '/account/security/phone/verify',
    { code },
  );
  if (!confirmed.location?.includes('done=phone-added'))
    throw new Error(`confirming the number answered ${confirmed.status}`);
}

/** Turns Duo on in the console of a signed-in browser (approving on the fake prompt); the recovery codes shown. */
export async function enrollDuo(
  browser: HttpClient,
  issuer: string,
  duo: FakeDuo,
  password = TEST_PASSWORD,
): Promise<string[]> {
  const choice = await open(browser, issuer, '/account/security/mfa');
  const toDuo = await submitForm(browser, choice, '/account/security/mfa', {
    method: 'duo',
    current_password: password,
  });
  if (!toDuo.location?.startsWith(duo.baseUrl)) throw new Error(`choosing Duo answered ${toDuo.status}`);
  const codes = recoveryCodesOnPage(await browser.follow((await pressOnDuoPrompt(duo, toDuo.location, 'allow')).back));
  if (codes.length !== 10) throw new Error('no recovery codes after the Duo setup');
  return codes;
}

/** The reset's second-factor page with its recovery-code form (via its "Use a recovery code" link if needed). */
export async function withRecoveryCodeForm(browser: HttpClient, page: PageResponse): Promise<PageResponse> {
  if (page.body.includes('action="/recovery/second-factor/recovery"')) return page;
  const href = page.body.match(/<a href="([^"]+)" id="use-recovery-code"/)?.[1];
  if (!href) throw new Error(`no recovery-code link on ${page.url}`);
  return browser.request(new URL(unescapeHtml(href), page.url).toString());
}
