import { createHash, randomBytes } from 'node:crypto';
import type { Adapter } from 'oidc-provider';

/** What a challenge needs of oidc-provider's storage (Redis, or PostgreSQL without Redis). */
export type ChallengeStorage = Pick<Adapter, 'upsert' | 'find' | 'consume'>;

/**
 * WebAuthn challenges (WebAuthn L3 13.4.3: random, at least 16 bytes, used once). Each is stored
 * where logins in progress live (oidc-provider's interactions: Redis, or PostgreSQL without it),
 * under a key made of what it is bound to (a login's interaction, a console session) and the
 * challenge itself, which comes back inside the signed clientDataJSON. So several may be open at
 * once (the autofill request and the button), none can serve another login or session, and
 * taking one is the storage's atomic consume: of two parallel answers one wins.
 */
export class PasskeyChallenges {
  constructor(
    private readonly storage: ChallengeStorage,
    private readonly ttlSeconds: number,
  ) {}

  static key(binding: string, challenge: string): string {
    return createHash('sha256').update(`${binding}\u0000${challenge}`).digest('base64url');
  }

  /** A new challenge for `binding`, base64url (32 random bytes). */
  async issue(binding: string): Promise<string> {
    const challenge = randomBytes(32).toString('base64url');
    await this.storage.upsert(PasskeyChallenges.key(binding, challenge), { binding }, this.ttlSeconds);
    return challenge;
  }

  /** True once for a challenge issued to `binding` that has not expired; false ever after. */
  async take(binding: string, challenge: string): Promise<boolean> {
    const key = PasskeyChallenges.key(binding, challenge);
    const found = await this.storage.find(key);
    if (!found || found.consumed || found.binding !== binding) return false;
    try {
      await this.storage.consume(key);
      return true;
    } catch {
      return false;
    }
  }
}
