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

/** The acr values an essential `acr` claim of the claims parameter names (OIDC Core 5.5.1.1). */
function essentialAcrs(claims: unknown): string[] {
  let parsed: unknown = claims;
  if (typeof claims === 'string') {
    try {
      parsed = JSON.parse(claims);
    } catch {
      return []; // oidc-provider refuses the request itself
    }
  }
  const named: string[] = [];
  for (const member of ['id_token', 'userinfo']) {
    const acr = (parsed as Record<string, Record<string, unknown> | undefined> | null)?.[member]?.acr as
      { essential?: unknown; value?: unknown; values?: unknown } | null | undefined;
    if (!acr || acr.essential !== true) continue;
    if (typeof acr.value === 'string') named.push(acr.value);
    if (Array.isArray(acr.values)) named.push(...acr.values.filter((v): v is string => typeof v === 'string'));
  }
  return named;
}

/**
 * Whether the relying party asked for a second factor: `acr_values` naming the MFA class (OIDC
 * Core 3.1.2.1), or the claims parameter with an essential `acr` claim naming it (5.5.1.1).
 */
export function requestsMfa(params: Record<string, unknown>): boolean {
  if (typeof params.acr_values === 'string' && params.acr_values.split(' ').includes(ACR.mfa)) return true;
  return essentialAcrs(params.claims).includes(ACR.mfa);
}

/**
 * Whether a login's methods include a phishing-resistant authenticator (NIST SP 800-63B 5.2.5:
 * WebAuthn binds its answer to the origin): a passkey or security key, RFC 8176 hwk or swk.
 */
export function phishingResistant(amr: readonly string[] | undefined): boolean {
  return (amr ?? []).some((method) => method === 'hwk' || method === 'swk');
}
