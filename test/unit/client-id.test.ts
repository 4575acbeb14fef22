import { newClientId } from '../../src/oidc/clients/repository.js';

describe('client ids', () => {
  it('never start with "-", so the admin CLI and shell tools do not read one as an option', () => {
    // One random base64url id in 64 starts with '-': 5,000 ids would all but surely hold one.
    const ids = Array.from({ length: 5_000 }, newClientId);
    expect(ids.filter((id) => id.startsWith('-'))).toEqual([]);
    expect(ids.every((id) => /^[A-Za-z0-9_-]{22}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
