import { randomBytes } from 'node:crypto';
import { ClientAdapter, insertClient } from '../../../src/oidc/clients/repository.js';
import { SecretBox } from '../../../src/security/secret-box.js';
import { openScratchStorage } from '../../helpers/databases.js';
import { EMBEDDED } from '../../helpers/env.js';

describe("a client's name on the login pages", () => {
  it('is read without opening the client secret', async () => {
    const storage = await openScratchStorage(EMBEDDED ? 'pglite' : 'postgres');
    try {
      const { db } = storage.handle;
      const metadata = {
        client_name: 'Kaisha Portal',
        redirect_uris: ['https://rp.example/cb'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      };
      await insertClient(db, new SecretBox(randomBytes(32)), 'portal', metadata);
      // Another key: this adapter cannot open the secret, as if the secret were never needed.
      for (const ttlMs of [0, 60_000]) {
        const clients = new ClientAdapter(db, new SecretBox(randomBytes(32)), ttlMs);
        expect(await clients.displayName('portal')).toBe('Kaisha Portal');
        expect(await clients.displayName('unknown-client')).toBeUndefined();
        await expect(clients.find('portal')).rejects.toThrow();
      }
    } finally {
      await storage.close();
    }
  });
});
