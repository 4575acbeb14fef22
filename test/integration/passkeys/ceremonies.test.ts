import type { App } from '../../../src/app.js';
import { AppError } from '../../../src/errors.js';
import {
  authenticationOptions,
  registerPasskey,
  registrationOptions,
  removePasskey,
  verifyPasskey,
} from '../../../src/identity/passkeys/webauthn.js';
import { listPasskeys } from '../../../src/identity/passkeys/repository.js';
import type { RequestMeta } from '../../../src/request-meta.js';
import { auditTypes } from '../../helpers/account.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { EMBEDDED } from '../../helpers/env.js';
import { registerUser } from '../../helpers/fixtures.js';
import { SoftwareAuthenticator } from '../../helpers/software-authenticator.js';

const meta = (ip = '192.0.2.10'): RequestMeta => ({ ip, userAgent: 'jest', locale: 'en', device: undefined });

async function refusal(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  return 'accepted';
}

// Real PostgreSQL + Redis, and the embedded default (PGlite; challenges in the database).
const modes: ('server' | 'embedded')[] = EMBEDDED ? ['embedded'] : ['server', 'embedded'];

describe.each(modes)('passkey ceremonies (%s)', (mode) => {
  let harness: TestApp;
  let app: App;
  beforeAll(async () => {
    harness = await startTestApp({ mode });
    app = harness.app;
  }, 180_000);
  afterAll(async () => {
    await harness?.close();
  });

  async function enrolled(authenticator = new SoftwareAuthenticator(harness.issuer)) {
    const account = await registerUser(app);
    const binding = `console:${account.id}`;
    const options = await registrationOptions(app.passkeys, account, binding);
    const passkey = await registerPasskey(
      app.passkeys,
      account,
      binding,
      JSON.stringify(authenticator.create(options)),
      'Work laptop',
      meta(),
    );
    return { account, authenticator, passkey };
  }

  it('registers a passkey from a real attestation and signs in with it, once per challenge', async () => {
    const { account, authenticator, passkey } = await enrolled();
    expect(passkey).toMatchObject({ account_id: account.id, name: 'Work laptop', device_type: 'singleDevice' });
    expect((await listPasskeys(app.db, account.id)).map((p) => p.credential_id)).toEqual([
      authenticator.credentials[0]!.id,
    ]);

    const options = await authenticationOptions(app.passkeys, 'login:a');
    expect(options.allowCredentials ?? []).toEqual([]); // discoverable: the browser offers what it holds
    expect(options.userVerification).toBe('required');
    const answer = JSON.stringify(authenticator.get(options));
    const login = await verifyPasskey(app.passkeys, app.passkeyThrottle, 'login:a', answer, meta());
    expect(login.account.id).toBe(account.id);
    expect(login.amr).toEqual(['hwk', 'user']);
    // The same answer again (a replayed challenge) is refused.
    expect(await refusal(verifyPasskey(app.passkeys, app.passkeyThrottle, 'login:a', answer, meta()))).toBe(
      'PASSKEY_NOT_ACCEPTED',
    );
    const [row] = await listPasskeys(app.db, account.id);
    expect(row!.last_used_at).not.toBeNull();
    expect(await auditTypes(app, account.id)).toEqual(expect.arrayContaining(['passkey.added', 'passkey.failed']));
  });

  it('tells a synced passkey (swk) from a device-bound one (hwk)', async () => {
    const { authenticator } = await enrolled(new SoftwareAuthenticator(harness.issuer, undefined, true));
    const options = await authenticationOptions(app.passkeys, 'login:synced');
    const login = await verifyPasskey(
      app.passkeys,
      app.passkeyThrottle,
      'login:synced',
      JSON.stringify(authenticator.get(options)),
      meta(),
    );
    expect(login.amr).toEqual(['swk', 'user']);
    expect(login.passkey.device_type).toBe('multiDevice');
  });

  it('refuses a registration from another origin, for another rpID, or without user verification', async () => {
    const account = await registerUser(app);
    const binding = `console:${account.id}`;
    const authenticator = new SoftwareAuthenticator(harness.issuer);
    for (const ceremony of [
      { origin: 'https://monban.example.net' },
      { rpId: 'example.net' },
      { userVerified: false },
    ]) {
      const options = await registrationOptions(app.passkeys, account, binding);
      const answer = JSON.stringify(authenticator.create(options, ceremony));
      expect(await refusal(registerPasskey(app.passkeys, account, binding, answer, 'x', meta()))).toBe(
        'PASSKEY_NOT_ACCEPTED',
      );
    }
    expect(await listPasskeys(app.db, account.id)).toEqual([]);
  });

  it('refuses a sign-in from another origin, for another rpID, without user verification, or bound elsewhere', async () => {
    const { authenticator } = await enrolled();
    for (const [ceremony, binding] of [
      [{ origin: 'https://monban.example.net' }, 'login:b'],
      [{ rpId: 'example.net' }, 'login:b'],
      [{ userVerified: false }, 'login:b'],
      [{}, 'login:another-interaction'],
    ] as const) {
      const options = await authenticationOptions(app.passkeys, 'login:b');
      const answer = JSON.stringify(authenticator.get(options, ceremony));
      expect(await refusal(verifyPasskey(app.passkeys, app.passkeyThrottle, binding, answer, meta()))).toBe(
        'PASSKEY_NOT_ACCEPTED',
      );
    }
    // A challenge Monban never issued.
    const options = await authenticationOptions(app.passkeys, 'login:b');
    const forged = JSON.stringify(authenticator.get(options, { challenge: 'bm90LWlzc3VlZC1ieS1tb25iYW4' }));
    expect(await refusal(verifyPasskey(app.passkeys, app.passkeyThrottle, 'login:b', forged, meta()))).toBe(
      'PASSKEY_NOT_ACCEPTED',
    );
  });

  it('refuses a signature counter that goes backwards, and audits it', async () => {
    const { account, authenticator } = await enrolled();
    const first = await authenticationOptions(app.passkeys, 'login:c');
    await verifyPasskey(
      app.passkeys,
      app.passkeyThrottle,
      'login:c',
      JSON.stringify(authenticator.get(first, { counter: 7 })),
      meta(),
    );
    const second = await authenticationOptions(app.passkeys, 'login:c');
    const cloned = JSON.stringify(authenticator.get(second, { counter: 5 }));
    expect(await refusal(verifyPasskey(app.passkeys, app.passkeyThrottle, 'login:c', cloned, meta()))).toBe(
      'PASSKEY_COUNTER',
    );
    expect(await auditTypes(app, account.id)).toContain('passkey.counter_regression');
    const [row] = await listPasskeys(app.db, account.id);
    expect(Number(row!.counter)).toBe(7);
  });

  it('a removed passkey signs in no more; a notice is mailed on adding and on removing', async () => {
    const { account, authenticator, passkey } = await enrolled();
    expect(await removePasskey(app.passkeys, account, passkey.id, meta())).toBe(true);
    const options = await authenticationOptions(app.passkeys, 'login:d');
    const answer = JSON.stringify(authenticator.get(options));
    expect(await refusal(verifyPasskey(app.passkeys, app.passkeyThrottle, 'login:d', answer, meta()))).toBe(
      'PASSKEY_UNKNOWN',
    );
    const mails = await app.db
      .selectFrom('outbox')
      .select(['template'])
      .where('recipient', '=', account.email)
      .orderBy('id')
      .execute();
    expect(mails.map((m) => m.template)).toEqual(['security-notice', 'security-notice']);
    expect(await auditTypes(app, account.id)).toEqual(expect.arrayContaining(['passkey.added', 'passkey.removed']));
  });

  it('a second factor accepts only the account’s own passkeys', async () => {
    const { authenticator } = await enrolled();
    const other = await registerUser(app);
    const options = await authenticationOptions(app.passkeys, 'mfa:e', other);
    expect(options.allowCredentials).toEqual([]);
    const answer = JSON.stringify(authenticator.get(options, { credentialId: authenticator.credentials[0]!.id }));
    expect(
      await refusal(verifyPasskey(app.passkeys, app.passkeyThrottle, 'mfa:e', answer, meta(), { accountId: other.id })),
    ).toBe('PASSKEY_UNKNOWN');
  });

  it('counts 50 parallel sign-ins for one account before any signature is checked', async () => {
    const { authenticator } = await enrolled();
    const limit = app.config.passkeys.attemptsPerAccount.points;
    // Fifty answers, each to a challenge of its own, each with a broken signature.
    const answers = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const options = await authenticationOptions(app.passkeys, `login:p${i}`);
        const answer = authenticator.get(options);
        answer.response.signature = Buffer.from('not a signature').toString('base64url');
        return [`login:p${i}`, JSON.stringify(answer)] as const;
      }),
    );
    const outcomes = await Promise.all(
      answers.map(([binding, answer], i) =>
        refusal(verifyPasskey(app.passkeys, app.passkeyThrottle, binding, answer, meta(`198.51.100.${i}`))),
      ),
    );
    expect(outcomes.filter((o) => o === 'PASSKEY_NOT_ACCEPTED')).toHaveLength(limit);
    expect(outcomes.filter((o) => o === 'TOO_MANY_ATTEMPTS')).toHaveLength(50 - limit);
  });
});
