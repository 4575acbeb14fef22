/**
 * Issue 11 item 3, the reset's half: strangers asking for reset codes for an address cannot lock
 * the owner out of their own reset. Strangers' browsers share one cap per address, a browser that
 * logged in to the account before has its own, a higher ceiling bounds the mails the address gets,
 * and a reset started in another browser does not end the owner's. Real PostgreSQL + Redis.
 */
import { ENGLISH, signInToAccount, startAccountHarness, type AccountHarness } from '../../helpers/account.js';
import { en, registerUser } from '../../helpers/fixtures.js';
import { alertText, HttpClient, submitForm, type PageResponse } from '../../helpers/http-client.js';
import { askForCode, enterResetCode, isResetMail, resetCodeByMail, startReset } from '../../helpers/recovery.js';

const PER_BROWSER = 5;
const CEILING = 8;
const PARALLEL = 50;

describe("the cap on reset codes sent for an address leaves the owner's reset working (issue 11 item 3)", () => {
  let h: AccountHarness;

  beforeAll(async () => {
    h = await startAccountHarness({
      recovery: {
        perIp: { points: 1000, durationSeconds: 3600 },
        perAddress: { points: PER_BROWSER, durationSeconds: 3600 },
        perAddressCeiling: { points: CEILING, durationSeconds: 3600 },
      },
    });
  });
  afterAll(async () => {
    await h?.close();
  });

  /** PARALLEL "send a new code" at once on the code page; their answers. */
  function resendAtOnce(browser: HttpClient, codePage: PageResponse): Promise<PageResponse[]> {
    return Promise.all(Array.from({ length: PARALLEL }, () => submitForm(browser, codePage, '/recovery/resend', {})));
  }

  const resetMailsTo = (email: string) => h.mail.mailsTo(email).filter(isResetMail).length;

  it("50 parallel requests from a stranger use only the strangers' cap; the owner resets in their own browser", async () => {
    const owner = await registerUser(h.app, { locale: 'en' });
    // The owner's browser logged in before (it holds a device cookie for the account), and the
    // owner has a reset open in it when the stranger starts.
    const own = new HttpClient(ENGLISH);
    await signInToAccount(own, h.issuer, owner.email);
    const ownMethodPage = await startReset(own, h.issuer, owner.email);
    expect(ownMethodPage.status).toBe(200);

    const stranger = new HttpClient(ENGLISH);
    const strangerCodePage = await askForCode(stranger, await startReset(stranger, h.issuer, owner.email), {
      channel: 'email',
    });
    expect(strangerCodePage.status).toBe(200);
    const answers = await resendAtOnce(stranger, strangerCodePage);
    const refused = answers.filter((a) => a.status === 429);
    expect(answers.filter((a) => a.status === 303)).toHaveLength(PER_BROWSER - 1);
    expect(refused).toHaveLength(PARALLEL - (PER_BROWSER - 1));
    expect(alertText(refused[0]!.body)).toMatch(/^Too many attempts\. Try again in \d+ minutes\.$/);
    // Every stranger's mail has arrived before the owner asks.
    await resetCodeByMail(h.mail, owner.email, PER_BROWSER - 1);

    // Another stranger's browser shares the strangers' cap.
    const other = new HttpClient(ENGLISH);
    const otherAnswer = await askForCode(other, await startReset(other, h.issuer, owner.email), { channel: 'email' });
    expect(otherAnswer.status).toBe(429);

    // The owner's reset, started before the strangers' ones, is still open; its code comes and works.
    const ownCodePage = await askForCode(own, ownMethodPage, { channel: 'email' });
    expect(ownCodePage.status).toBe(200);
    expect(new URL(ownCodePage.url).pathname).toBe('/recovery/code');
    const passwordPage = await enterResetCode(
      own,
      ownCodePage,
      await resetCodeByMail(h.mail, owner.email, PER_BROWSER),
    );
    expect(new URL(passwordPage.url).pathname).toBe('/recovery/password');
    expect(passwordPage.body).toContain(en('recovery.passwordHeading'));

    // The ceiling over every browser still bounds the mails: the owner's browser gets what is
    // left of it, even in 50 parallel requests, and no more.
    const again = await askForCode(own, await startReset(own, h.issuer, owner.email), { channel: 'email' });
    expect(again.status).toBe(200);
    const sentSoFar = PER_BROWSER + 2;
    const ownAnswers = await resendAtOnce(own, again);
    expect(ownAnswers.filter((a) => a.status === 303)).toHaveLength(CEILING - sentSoFar);
    expect(ownAnswers.filter((a) => a.status === 429)).toHaveLength(PARALLEL - (CEILING - sentSoFar));
    await resetCodeByMail(h.mail, owner.email, CEILING - 1);
    const outbox = await h.app.db
      .selectFrom('outbox')
      .select('id')
      .where('recipient', '=', owner.email)
      .where('template', '=', 'recovery-code')
      .execute();
    expect(outbox).toHaveLength(CEILING);
    expect(resetMailsTo(owner.email)).toBe(CEILING);
  });
});
