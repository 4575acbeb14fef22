/**
 * A common password dressed up (a capital, digits, a symbol, leetspeak) meets every character
 * rule but is refused by the strength rule (zxcvbn, passwordPolicy.minStrength 3) on every page
 * that sets a password: sign-up, the console's password change and the reset. Each page's
 * checklist names the rule in ja and en; the browser does not download a word list for it.
 */
import {
  agePassword,
  ENGLISH,
  open,
  signedInUser,
  startAccountHarness,
  type AccountHarness,
} from '../../helpers/account.js';
import { en, ja, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient, submitForm, type PageResponse } from '../../helpers/http-client.js';
import { chooseNewPassword, pastTheCode } from '../../helpers/recovery.js';
import { formErrors, newAddress, openSignUp, signUp, signUpFields } from '../../helpers/signup-pages.js';

/** The checklist's items, by rule. */
function checklist(page: PageResponse): Record<string, string> {
  const list = page.body.match(/<ul class="checklist" id="password-checklist"[^>]*>([\s\S]*?)<\/ul>/)?.[1] ?? '';
  return Object.fromEntries(
    [...list.matchAll(/<li data-rule="(\w+)"[^>]*>([^<]*)<\/li>/g)].map((m) => [m[1]!, m[2]!.trim()]),
  );
}

function scripts(page: PageResponse): string[] {
  return [...page.body.matchAll(/<script[^>]*src="([^"]+)"/g)].map((m) => m[1]!);
}

describe('the strength rule on every password page', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness({ registration: { perIp: { points: 100, durationSeconds: 3600 } } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('sign-up refuses Password123!, and its checklist names the rule in English and Japanese', async () => {
    const english = await openSignUp(new HttpClient(ENGLISH), h.issuer);
    expect(checklist(english).strength).toBe(en('checklist.strength'));
    const japanese = await openSignUp(new HttpClient({ 'accept-language': 'ja' }), h.issuer);
    expect(checklist(japanese).strength).toBe(ja('checklist.strength'));
    // The page's scripts are small, local and fetch nothing: no word list reaches the browser.
    expect(scripts(english)).toContain('/static/password-checklist.js');
    for (const src of scripts(english)) {
      expect(src.startsWith('/static/')).toBe(true);
      const script = await (await fetch(`${h.issuer}${src}`)).text();
      expect([src, script.length < 8192]).toEqual([src, true]);
      expect(script).not.toMatch(/fetch\(|XMLHttpRequest|import\(/);
    }

    const email = newAddress();
    const refused = await signUp(
      new HttpClient(ENGLISH),
      h.issuer,
      signUpFields(email, { password: 'Password123!', password_confirmation: 'Password123!' }),
    );
    expect(refused.status).toBe(400);
    expect(formErrors(refused.body)).toEqual([en('errors.PASSWORD_TOO_WEAK')]);
    const jaRefused = await signUp(
      new HttpClient({ 'accept-language': 'ja' }),
      h.issuer,
      signUpFields(email, { password: 'P@ssw0rd1234', password_confirmation: 'P@ssw0rd1234' }),
    );
    expect(formErrors(jaRefused.body)).toEqual([ja('errors.PASSWORD_TOO_WEAK')]);
  });

  it("the console's password change refuses Welcome2024!", async () => {
    const { user, browser } = await signedInUser(h);
    await agePassword(h.app, user.id);
    const form = await open(browser, h.issuer, '/account/security/password');
    expect(checklist(form).strength).toBeDefined();
    const refused = await submitForm(browser, form, '/account/security/password', {
      current_password: TEST_PASSWORD,
      password: 'Welcome2024!',
      password_confirmation: 'Welcome2024!',
    });
    expect(refused.status).toBe(400);
    expect(formErrors(refused.body)).toEqual([en('errors.PASSWORD_TOO_WEAK')]);
  });

  it('the reset refuses P@ssw0rd1234 and takes a strong one', async () => {
    const user = await registerUser(h.app, { locale: 'en' });
    const browser = new HttpClient(ENGLISH);
    const passwordPage = await pastTheCode(browser, h.issuer, h.mail, user.email);
    expect(checklist(passwordPage).strength).toBeDefined();
    const refused = await chooseNewPassword(browser, passwordPage, 'P@ssw0rd1234');
    expect(refused.status).toBe(400);
    expect(formErrors(refused.body)).toEqual([en('errors.PASSWORD_TOO_WEAK')]);
    expect((await chooseNewPassword(browser, refused, 'Momiji-Yama-2027!')).status).toBe(303);
  });
});
