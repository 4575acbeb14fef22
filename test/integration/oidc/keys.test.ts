import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader } from 'jose';
import { ensureServerKeys, loadCookieKeys, loadSigningJwks, rotateSigningKeys } from '../../../src/oidc/keys.js';
import { SecretBox } from '../../../src/security/secret-box.js';
import { startTestApp } from '../../helpers/app.js';
import { createScratchDatabase, openScratchStorage } from '../../helpers/databases.js';
import {
  authorizationUrl,
  exchangeCode,
  registerClient,
  registerUser,
  RP_CALLBACK,
  TEST_PASSWORD,
} from '../../helpers/fixtures.js';
import { HttpClient, loginThroughPages } from '../../helpers/http-client.js';
import { EMBEDDED } from '../../helpers/env.js';

const box = new SecretBox(randomBytes(32));

describe('server keys (OP4)', () => {
  it('are created once even when several processes start together', async () => {
    const storage = await openScratchStorage(EMBEDDED ? 'pglite' : 'postgres');
    try {
      const { db } = storage.handle;
      await Promise.all([ensureServerKeys(db, box), ensureServerKeys(db, box), ensureServerKeys(db, box)]);
      const rows = await db.selectFrom('server_keys').select(['use', 'state']).execute();
      expect(rows.filter((r) => r.use === 'signing' && r.state === 'active')).toHaveLength(1);
      expect(rows.filter((r) => r.use === 'signing' && r.state === 'staged')).toHaveLength(1);
      expect(rows.filter((r) => r.use === 'cookie')).toHaveLength(1);
      expect(await loadCookieKeys(db, box)).toHaveLength(1);

      const stored = await db.selectFrom('server_keys').select('material_sealed').execute();
      for (const row of stored) expect(row.material_sealed).not.toMatch(/"d":/); // private parts are sealed
    } finally {
      await storage.close();
    }
  });

  it('rotate: the staged key signs next, the old one stays published', async () => {
    const storage = await openScratchStorage(EMBEDDED ? 'pglite' : 'postgres');
    try {
      const { db } = storage.handle;
      await ensureServerKeys(db, box);
      const before = (await loadSigningJwks(db, box)).keys.map((k) => k.kid);
      const result = await rotateSigningKeys(db, box);
      const after = (await loadSigningJwks(db, box)).keys.map((k) => k.kid);
      expect(result.active).toBe(before[1]); // the previously staged key
      expect(after[0]).toBe(before[1]);
      expect(after).toContain(before[0]); // retired, still verifies old tokens
      expect(after).toContain(result.staged);
      expect(after).toHaveLength(3);
    } finally {
      await storage.close();
    }
  });
});

describe('restarts (OP4, OP5)', () => {
  if (EMBEDDED) {
    it.skip('needs a shared PostgreSQL server', () => undefined);
    return;
  }

  it('keep the signing key, the session and the clients: a logged-in user stays logged in', async () => {
    const scratch = await createScratchDatabase();
    const first = await startTestApp({ overrides: { databaseUrl: scratch.url } });
    let second: Awaited<ReturnType<typeof startTestApp>> | undefined;
    try {
      const client = await registerClient(first.app);
      const user = await registerUser(first.app);
      const browser = new HttpClient();
      const auth = authorizationUrl(first.issuer, client.client_id);
      const done = await loginThroughPages(browser, auth.url, RP_CALLBACK, {
        email: user.email,
        password: TEST_PASSWORD,
      });
      expect(done.location).toContain('code=');
      const jwksBefore = (await (await fetch(`${first.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
      const issuer = first.issuer;
      const port = Number(new URL(issuer).port);
      await first.app.stop();

      // Same database, same Redis prefix, same issuer: a restarted process.
      second = await startTestApp({
        overrides: { databaseUrl: scratch.url, port, issuer, redisKeyPrefix: first.app.config.redisKeyPrefix },
      });
      const jwksAfter = (await (await fetch(`${issuer}/jwks`)).json()) as { keys: { kid: string }[] };
      expect(jwksAfter.keys.map((k) => k.kid)).toEqual(jwksBefore.keys.map((k) => k.kid));

      // The session cookie from before the restart still works: no login page this time.
      const again = authorizationUrl(issuer, client.client_id);
      const page = await browser.follow(again.url, RP_CALLBACK);
      expect(page.location).toContain('code=');
      const code = new URL(page.location!).searchParams.get('code')!;
      const token = await exchangeCode(issuer, client, code, again.verifier);
      const { id_token: idToken } = (await token.json()) as { id_token: string };
      expect(decodeProtectedHeader(idToken).kid).toBe(jwksBefore.keys[0]!.kid);
    } finally {
      await second?.close();
      await scratch.drop();
    }
  });
});
