import { ACR, requestsMfa } from '../../src/oidc/acr.js';

describe('whether a relying party asks for MFA (L3)', () => {
  it('reads acr_values, a space-separated list', () => {
    expect(requestsMfa({ acr_values: ACR.mfa })).toBe(true);
    expect(requestsMfa({ acr_values: `${ACR.password} ${ACR.mfa}` })).toBe(true);
    expect(requestsMfa({ acr_values: ACR.password })).toBe(false);
    expect(requestsMfa({ acr_values: `${ACR.mfa}x` })).toBe(false);
    expect(requestsMfa({})).toBe(false);
  });

  it('reads an acr claim request in the claims parameter (value or values)', () => {
    expect(requestsMfa({ claims: JSON.stringify({ id_token: { acr: { essential: true, value: ACR.mfa } } }) })).toBe(true);
    expect(requestsMfa({ claims: JSON.stringify({ id_token: { acr: { values: [ACR.password, ACR.mfa] } } }) })).toBe(true);
    expect(requestsMfa({ claims: JSON.stringify({ id_token: { acr: { value: ACR.password } } }) })).toBe(false);
    expect(requestsMfa({ claims: JSON.stringify({ userinfo: { acr: { value: ACR.mfa } } }) })).toBe(false);
  });

  it('treats a malformed claims parameter as no request', () => {
    expect(requestsMfa({ claims: '{not json' })).toBe(false);
    expect(requestsMfa({ claims: 'null' })).toBe(false);
  });
});
