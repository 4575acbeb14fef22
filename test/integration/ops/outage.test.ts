import { startTestApp, type TestApp } from '../../helpers/app.js';
import {
  authorizationUrl,
  en,
  ja,
  postAsClient,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import {
  formAction,
  hiddenInputs,
  HttpClient,
  inputValue,
  loginThroughPages,
  unescapeHtml,
  type PageResponse,
} from '../../helpers/http-client.js';
import { watchRedisCommands } from '../../helpers/redis-commands.js';

/** The outage page: 503, "try again later" in the user's language, the request id as the reference. */
function expectOutagePage(page: PageResponse, say: typeof en): void {
  expect(page.status).toBe(503);
  const body = unescapeHtml(page.body);
  expect(body).toContain(say('errors.UNAVAILABLE'));
  expect(body).not.toContain(say('errors.OAUTH'));
  const reference = page.headers.get('x-request-id')!;
  expect(body).toContain(say('errors.reference', { id: reference }));
}

describe('outages fail closed with a "try again later" page and a reference (README: Outages)', () => {
  let t: TestApp;
  let client: Awaited<ReturnType<typeof registerClient>>;
  let email: string;
  beforeAll(async () => {
    t = await startTestApp({ proxies: true });
    client = await registerClient(t.app);
    email = (await registerUser(t.app)).email;
  });
  afterAll(async () => {
    await t.close();
  });

  it.each([
    ['en', en],
    ['ja', ja],
  ] as const)('Redis down: the authorization request gets the outage page (%s)', async (lang, say) => {
    await t.redis!.cut();
    try {
      const browser = new HttpClient({ 'accept-language': lang });
      const page = await browser.follow(authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK);
      expectOutagePage(page, say);
    } finally {
      await t.redis!.restore();
    }
  });

  it('PostgreSQL down at the password step: the outage page, no login', async () => {
    const browser = new HttpClient({ 'accept-language': 'en' });
    const emailPage = await browser.follow(authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK);
    const passwordPage = await browser.follow(
      new URL(formAction(emailPage.body, '/email')!, t.issuer).toString(),
      RP_CALLBACK,
      {
        form: { _csrf: inputValue(emailPage.body, '_csrf')!, email },
      },
    );
    await t.postgres!.cut();
    try {
      const answer = await browser.follow(
        new URL(formAction(passwordPage.body, '/password')!, t.issuer).toString(),
        RP_CALLBACK,
        {
          form: { _csrf: inputValue(passwordPage.body, '_csrf')!, password: TEST_PASSWORD },
        },
      );
      expect(answer.location ?? '').not.toContain(RP_CALLBACK);
      expectOutagePage(answer, en);
    } finally {
      await t.postgres!.restore();
    }
  });

  it('Redis lost as the login resumes: the writes it held fail the answer, and the app gets no code', async () => {
    // A returning user, whose consent to the app is remembered: the resume ends at the app.
    const returning = (await registerUser(t.app)).email;
    const first = await loginThroughPages(
      new HttpClient({ 'accept-language': 'en' }),
      authorizationUrl(t.issuer, client.client_id).url,
      RP_CALLBACK,
      { email: returning, password: TEST_PASSWORD },
    );
    expect(first.location).toContain(RP_CALLBACK);
    const browser = new HttpClient({ 'accept-language': 'en' });
    const emailPage = await browser.follow(authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK);
    const passwordPage = await browser.follow(
      new URL(formAction(emailPage.body, '/email')!, t.issuer).toString(),
      RP_CALLBACK,
      {
        form: { _csrf: inputValue(emailPage.body, '_csrf')!, email: returning },
      },
    );
    // The password form resumes the login in the same exchange (resume-here.ts): the resume reads
    // its interaction, then holds the interaction's deletion and the saves of the grant, the code
    // and the session until its answer is about to leave. Redis goes away just as they go out
    // together (the script that saves the code).
    let armed = true;
    const stopWatching = watchRedisCommands(t.app.redis!, ({ name, args }) => {
      if (armed && name === 'evalsha' && args.some((arg) => arg.includes('o:AC'))) {
        armed = false;
        void t.redis!.cut();
      }
    });
    try {
      const answer = await browser.request(new URL(formAction(passwordPage.body, '/password')!, t.issuer).toString(), {
        form: { _csrf: inputValue(passwordPage.body, '_csrf')!, password: TEST_PASSWORD },
      });
      expect(armed).toBe(false);
      expect(answer.location ?? '').not.toContain(RP_CALLBACK);
      expectOutagePage(answer, en);
    } finally {
      stopWatching();
      await t.redis!.restore();
    }
  });

  it('Redis lost as the logout is confirmed: the outage page, and the session is over all the same', async () => {
    const browser = new HttpClient({ 'accept-language': 'en' });
    const signedIn = await loginThroughPages(browser, authorizationUrl(t.issuer, client.client_id).url, RP_CALLBACK, {
      email,
      password: TEST_PASSWORD,
    });
    expect(signedIn.location).toContain(RP_CALLBACK);
    const confirm = await browser.follow(`${t.issuer}/session/end`);

    // The confirmation revokes the session's grant (its revocation mark, written in Redis as
    // oidc-provider asks), then ends the session: its index row in PostgreSQL is marked ended,
    // and the Redis writes (the session and its grant deleted) wait for the answer. Redis goes
    // away just as the first write goes out.
    const redis = t.app.redis!;
    const send = redis.sendCommand.bind(redis);
    let armed = true;
    const isWrite = (command: Parameters<typeof send>[0]) =>
      command.name === 'unlink' || (command.name === 'evalsha' && String(command.args[2]).includes(':o:GR:'));
    redis.sendCommand = ((command: Parameters<typeof send>[0], ...rest: unknown[]) => {
      if (armed && isWrite(command)) {
        armed = false;
        void t.redis!.cut();
      }
      return (send as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof redis.sendCommand;
    try {
      const answer = await browser.request(`${t.issuer}/session/end/confirm`, {
        form: { ...hiddenInputs(confirm.body, '/session/end/confirm'), logout: 'yes' },
        headers: { accept: 'text/html' },
      });
      expect(armed).toBe(false);
      expectOutagePage(answer, en);
    } finally {
      redis.sendCommand = send;
      await t.redis!.restore();
    }

    // Whatever Redis still holds of it, the session is not taken back: a silent login is refused.
    const silent = await browser.follow(
      authorizationUrl(t.issuer, client.client_id, { prompt: 'none' }).url,
      RP_CALLBACK,
    );
    expect(silent.location).toContain(RP_CALLBACK);
    expect(new URL(silent.location!).searchParams.get('error')).toBe('login_required');
  });

  it('Redis down: the account console and the token endpoint refuse too', async () => {
    await t.redis!.cut();
    try {
      const console = await new HttpClient({ 'accept-language': 'en' }).follow(`${t.issuer}/account`);
      expectOutagePage(console, en);
      const token = await postAsClient(`${t.issuer}/token`, client, {
        grant_type: 'authorization_code',
        code: 'x',
        redirect_uri: RP_CALLBACK,
      });
      // oidc-provider's own JSON answer to a failure: 503 for an outage, to be tried again.
      expect(token.status).toBe(503);
      expect(await token.json()).toMatchObject({ error: 'server_error' });
    } finally {
      await t.redis!.restore();
    }
  });
});
