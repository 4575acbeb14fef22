import { request } from 'node:http';
import { ChildServer, loginLoad, sharedDeployment, type SharedDeployment } from '../../helpers/child-server.js';
import { freePort } from '../../helpers/app.js';
import { authorizationUrl, RP_CALLBACK, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { formAction, HttpClient, inputValue } from '../../helpers/http-client.js';

/**
 * A password POST whose body a slow client sends over `durationMs`: the request is running all
 * that time, so SIGTERM arrives in the middle of it.
 */
async function slowPasswordPost(
  issuer: string,
  deployment: SharedDeployment,
  durationMs: number,
  started: () => void,
): Promise<{ status: number; connection: string | undefined }> {
  const browser = new HttpClient();
  const auth = authorizationUrl(issuer, deployment.client.client_id);
  const emailPage = await browser.follow(auth.url, RP_CALLBACK);
  const passwordPage = await browser.follow(
    new URL(formAction(emailPage.body, '/email')!, issuer).toString(),
    RP_CALLBACK,
    {
      form: { _csrf: inputValue(emailPage.body, '_csrf')!, email: deployment.email },
    },
  );
  const action = new URL(formAction(passwordPage.body, '/password')!, issuer);
  const body = new URLSearchParams({
    _csrf: inputValue(passwordPage.body, '_csrf')!,
    password: TEST_PASSWORD,
  }).toString();
  const cookie = await browser.jar.getCookieString(action.toString());
  return new Promise((resolve, reject) => {
    const req = request(
      action,
      {
        method: 'POST',
        headers: {
          cookie,
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(Buffer.byteLength(body)),
        },
      },
      (res) => {
        res.resume();
        res.once('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
      },
    );
    req.once('error', reject);
    const pieces = 10;
    let sent = 0;
    const timer = setInterval(() => {
      req.write(body.slice(Math.floor((sent * body.length) / pieces), Math.floor(((sent + 1) * body.length) / pieces)));
      if (sent === 0) started();
      sent += 1;
      if (sent === pieces) {
        clearInterval(timer);
        req.end();
      }
    }, durationMs / pieces);
  });
}

/**
 * How long the server keeps serving after SIGTERM before its listener closes. A login already
 * started when the load balancer stops sending must finish within it: several requests each,
 * which on a busy 2-core CI machine took more than 3 s.
 */
const DELAY_SECONDS = 8;

describe('SIGTERM during a login load (a real child process)', () => {
  let deployment: SharedDeployment;
  let server: ChildServer | undefined;
  let issuer: string;

  beforeAll(async () => {
    const port = await freePort();
    issuer = `http://127.0.0.1:${port}`;
    deployment = await sharedDeployment(issuer, {
      MONBAN_SHUTDOWN__DELAY_SECONDS: String(DELAY_SECONDS),
      MONBAN_SHUTDOWN__GRACE_SECONDS: '20',
    });
    server = await ChildServer.start(port, deployment.env);
  });
  afterAll(async () => {
    await server?.kill();
    await deployment?.close();
  });

  it('goes unready at once, finishes every running request and login, then exits 0', async () => {
    const load = loginLoad(issuer, deployment, 3);
    try {
      while (load.completed < 3 && load.failures.length === 0) await new Promise((r) => setTimeout(r, 50));
    } catch (err) {
      await load.stop();
      throw err;
    }
    let signalled = 0;
    // The slow POST runs from before the signal until well after the listener has closed.
    const slow = slowPasswordPost(issuer, deployment, (DELAY_SECONDS + 2) * 1000, () => {
      setTimeout(() => {
        server!.signal('SIGTERM');
        signalled = Date.now();
      }, 300);
    });
    while (!signalled) await new Promise((r) => setTimeout(r, 20));
    // A load balancer stops sending new logins now; those already started must all finish.
    // The signal is handled on the child's next turn of its event loop: ask until it says so.
    let ready = await fetch(`${issuer}/readyz`);
    for (let i = 0; i < 40 && ready.status === 200; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      ready = await fetch(`${issuer}/readyz`);
    }
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.draining).toBe('yes');
    await load.stop();
    expect(load.failures).toEqual([]);

    const answer = await slow;
    const answered = Date.now();
    // 303: the password was checked and the login moves on; the connection is not kept.
    expect(answer).toEqual({ status: 303, connection: 'close' });
    expect(answered - signalled).toBeGreaterThan(DELAY_SECONDS * 1000);

    expect(await server!.exited).toBe(0);
    expect(server!.output).toMatch(/"msg":"stopped"/);
    expect(server!.output).not.toMatch(/were cut/);
    await expect(fetch(`${issuer}/livez`)).rejects.toThrow();
  }, 120_000);
});
