/** Authentication context classes Monban asserts (OIDC Core 2, `acr`). */
export const ACR = {
  /** Something you know: a password. */
  password: 'urn:monban:acr:pwd',
  /** A password and a second factor. */
  mfa: 'urn:monban:acr:mfa',
} as const;
