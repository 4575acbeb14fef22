import { ACR, requestsMfa } from '../../src/oidc/acr.js';

describe('whether a relying party asks for MFA (L3)', () => {
  it('reads acr_values, a space-separated list', () => {
    expect(requestsMfa({ acr_values: ACR.mfa })).toBe(true);
    expect(requestsMfa({ acr_values: `${ACR.password} ${ACR.mfa}` })).toBe(true);
    expect(requestsMfa({ acr_values: ACR.password })).toBe(false);
    expect(requestsMfa({ acr_values: `${ACR.mfa}x` })).toBe(false);
    expect(requestsMfa({})).toBe(false);
  });
});
