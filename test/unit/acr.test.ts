import { ACR, phishingResistant, requestsMfa } from '../../src/oidc/acr.js';

describe('whether a relying party asks for MFA (L3)', () => {
  it('reads acr_values, a space-separated list', () => {
    expect(requestsMfa({ acr_values: ACR.mfa })).toBe(true);
    expect(requestsMfa({ acr_values: `${ACR.password} ${ACR.mfa}` })).toBe(true);
    expect(requestsMfa({ acr_values: ACR.password })).toBe(false);
    expect(requestsMfa({ acr_values: `${ACR.mfa}x` })).toBe(false);
    expect(requestsMfa({})).toBe(false);
  });
});

describe('whether a login was phishing-resistant (issue 17 company policy)', () => {
  it('takes a passkey or security key (RFC 8176 hwk, swk), alone or after the password', () => {
    expect(phishingResistant(['hwk', 'user', 'mfa'])).toBe(true);
    expect(phishingResistant(['pwd', 'swk', 'user', 'mfa'])).toBe(true);
    expect(phishingResistant(['pwd', 'otp', 'mfa'])).toBe(false);
    expect(phishingResistant(['pwd', 'mfa'])).toBe(false);
    expect(phishingResistant(undefined)).toBe(false);
  });
});
