/** Authentication context classes Monban asserts (OIDC Core 2, `acr`). */
export const ACR = {
  /** Something you know: a password. */
  password: 'urn:monban:acr:pwd',
  /** A password and a second factor. */
  mfa: 'urn:monban:acr:mfa',
} as const;

/** The authentication methods (RFC 8176) of each way to pass the second factor. */
export const AMR = {
  password: ['pwd'],
  totp: ['pwd', 'otp', 'mfa'],
  recoveryCode: ['pwd', 'otp', 'mfa'],
  duo: ['pwd', 'mfa'],
} as const;

/**
 * Whether the relying party asked for a second factor: `acr_values` naming the MFA class (OIDC
 * Core 3.1.2.1). The claims parameter (an essential `acr` claim) is not enabled in Monban.
 */
export function requestsMfa(params: Record<string, unknown>): boolean {
  return typeof params.acr_values === 'string' && params.acr_values.split(' ').includes(ACR.mfa);
}
