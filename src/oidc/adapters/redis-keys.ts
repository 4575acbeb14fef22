/*
 * The names of the Redis adapter's keys. A model is `<prefix>o:<code>:{<id>}`, its code two
 * letters; what goes with it adds a letter: `o:SE:u:{<uid>}` points from a session's uid to its
 * id, `o:DC:c:{<user code>}` from a device code's user code, `o:GR:t:{<grantId>}` lists a grant's
 * refresh tokens and `o:GR:r:{<grantId>}` is its revocation mark. With the default prefix
 * `monban:` and oidc-provider's 43-character ids, a name is at most 60 bytes, which jemalloc keeps
 * in 64 bytes rather than the 80 the full model names took (issue 16: 16 bytes a key).
 *
 * Releases before this one wrote `<prefix>oidc:<Model>:{<id>}` (`oidc:Session:uid:{<uid>}`,
 * `oidc:Grant:tokens:{<grantId>}`). Such a key is still read where the new name is not found,
 * saved over under the new name, and deleted with it, until the last of them has run out (a
 * session lives 30 days at most). Both names of a key end in the same hash tag, so they share a
 * Redis Cluster slot and one script may touch both.
 */

/** A model's two letters (a model not named here keeps its own name). */
const MODEL_CODES: ReadonlyMap<string, string> = new Map([
  ['AccessToken', 'AT'],
  ['AuthorizationCode', 'AC'],
  ['BackchannelAuthenticationRequest', 'BA'],
  ['ClientCredentials', 'CC'],
  ['DeviceCode', 'DC'],
  ['Grant', 'GR'],
  ['InitialAccessToken', 'IA'],
  ['Interaction', 'IN'],
  ['PasskeyChallenge', 'PK'],
  ['PreAuthorizedCode', 'PC'],
  ['PushedAuthorizationRequest', 'PA'],
  ['RefreshToken', 'RT'],
  ['RegistrationAccessToken', 'RA'],
  ['ReplayDetection', 'RD'],
  ['Session', 'SE'],
]);

/** How a model is named in its key and in its grant's index. */
export const modelCode = (model: string): string => MODEL_CODES.get(model) ?? model;

/** A model's pointers: by uid (a session's), or by user code (a device code's). */
export type PointerKind = 'uid' | 'userCode';

const POINTER_LETTERS: Record<PointerKind, string> = { uid: 'u', userCode: 'c' };

/** A key's name now, and the name releases before gave it. */
export interface KeyNames {
  key: string;
  oldKey: string;
}

export class RedisKeys {
  constructor(private readonly prefix: string) {}

  /** Where a model's key starts, now and before: its id and `}` follow. */
  modelStarts(model: string): [string, string] {
    return [`${this.prefix}o:${modelCode(model)}:{`, `${this.prefix}oidc:${model}:{`];
  }

  model(model: string, id: string): KeyNames {
    const [start, oldStart] = this.modelStarts(model);
    return { key: `${start}${id}}`, oldKey: `${oldStart}${id}}` };
  }

  /** Where a model's pointers of one kind start, now and before: the value and `}` follow. */
  pointerStarts(model: string, kind: PointerKind): [string, string] {
    return [`${this.prefix}o:${modelCode(model)}:${POINTER_LETTERS[kind]}:{`, `${this.prefix}oidc:${model}:${kind}:{`];
  }

  pointer(model: string, kind: PointerKind, value: string): KeyNames {
    const [start, oldStart] = this.pointerStarts(model, kind);
    return { key: `${start}${value}}`, oldKey: `${oldStart}${value}}` };
  }

  /** A grant's index of its refresh tokens, now and before; in the slot of the grant itself. */
  grantIndex(grantId: string): KeyNames {
    return { key: `${this.prefix}o:GR:t:{${grantId}}`, oldKey: `${this.prefix}oidc:Grant:tokens:{${grantId}}` };
  }

  /**
   * The set of full keys that indexed a grant's tokens before the hash did; read by a revocation
   * until every such set has expired with its tokens.
   */
  legacyGrantSet(grantId: string): string {
    return `${this.prefix}oidc:grant:{${grantId}}`;
  }

  /** Where a grant's revocation mark starts: the grant's id and `}` follow. */
  revocationMarkStart(): string {
    return `${this.prefix}o:GR:r:{`;
  }

  /** Until when (epoch seconds) every token of the grant is revoked: in the slot of the grant itself. */
  revocationMark(grantId: string): string {
    return `${this.revocationMarkStart()}${grantId}}`;
  }
}
