/**
 * Issue 16: an app that calls userinfo and refreshes right after a login (or again and again)
 * does not read the account each time; ending the account's access anywhere makes every process
 * read it again at once.
 */
import { updateAccount } from '../../../src/identity/accounts/repository.js';
import {
  ENGLISH,
  refresh,
  rpSignIn,
  startAccountHarness,
  userinfo,
  type AccountHarness,
} from '../../helpers/account.js';
import { registerClient, registerUser, TEST_PASSWORD } from '../../helpers/fixtures.js';
import { HttpClient } from '../../helpers/http-client.js';
import { EMBEDDED } from '../../helpers/env.js';
import { eventually } from '../../helpers/signup-pages.js';

describe('accounts read for tokens (issue 16)', () => {
  let h: AccountHarness;
  beforeAll(async () => {
    h = await startAccountHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reads the account once for a burst of userinfo and refresh calls, and again once its access changes', async () => {
    const client = await registerClient(h.app);
    const user = await registerUser(h.app, { locale: 'en' });
    const tokens = await rpSignIn(new HttpClient(ENGLISH), h.issuer, client, user.email, TEST_PASSWORD, {
      scope: 'openid profile offline_access',
      prompt: 'consent',
    });

    const { counts, log } = await h.app.counters.measure(async () => {
      for (let i = 0; i < 3; i += 1) {
        const answer = await userinfo(h.issuer, tokens.access_token);
        expect([answer.status, answer.body.given_name]).toEqual([200, 'Hanako']);
      }
      const refreshed = await refresh(h.issuer, client, tokens.refresh_token!);
      expect(refreshed.status).toBe(200);
    });
    expect(log.filter((line) => line.includes('from "accounts"'))).toEqual([]);
    // On PostgreSQL + Redis little else goes to the database (the refreshed grant's index row, at
    // most); the embedded default keeps the tokens there too.
    if (!EMBEDDED) expect(counts.dbStatements).toBeLessThanOrEqual(1);

    // A change made elsewhere (here straight in the database) shows once the account's access
    // changes: every process forgets what it kept of the account.
    await updateAccount(h.app.db, user.id, { given_name: 'Sakura' });
    await h.app.changes.publish('access', user.id);
    await eventually(
      async () => (await userinfo(h.issuer, tokens.access_token)).body.given_name === 'Sakura',
      5_000,
      'userinfo with the new name',
    );
  });
});
