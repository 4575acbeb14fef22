import type { AdapterPayload } from 'oidc-provider';

/*
 * How a model's payload is written to Redis: JSON without its consumed mark and without the kind
 * and jti that its key already names, and with its longest field names cut to one capital letter,
 * which no oidc-provider model uses as a field name. A live session's keys are about a tenth
 * smaller (issue 16). A payload written before (full names, kind and jti) is read as it is.
 *
 * Some values are shortened too (VALUES): the expires-with-session flag is 1 for true, a token's
 * grant types are a letter each, and Monban's own `acr` values lose their common prefix. The
 * grant id, the session uid and that flag come first, in that order, so the Lua scripts find
 * them at the start of the value (redis-adapter.ts, FIND_WITH_GRANT) rather than anywhere inside
 * it, where a nested object (a claims request) could hold the same name.
 */

/** The fields written first, in this order (as G, S and W). */
const LEADING = ['grantId', 'sessionUid', 'expiresWithSession'];

/** Maps, not objects: a payload's own key (`constructor`, say) must never find an inherited name. */
const TOP_LEVEL: ReadonlyMap<string, string> = new Map([
  ['grantId', 'G'],
  ['sessionUid', 'S'],
  ['expiresWithSession', 'W'],
  ['accountId', 'A'],
  ['clientId', 'C'],
  ['codeChallenge', 'H'],
  ['codeChallengeMethod', 'K'],
  ['redirectUri', 'R'],
  ['authorizations', 'Z'],
  ['loginTs', 'L'],
  ['uid', 'U'],
  ['scope', 'P'],
  ['openid', 'O'],
  ['gty', 'Y'],
  ['amr', 'M'],
  ['acr', 'Q'],
  ['nonce', 'N'],
]);

/** A session's entry per client (`authorizations`). */
const PER_CLIENT: ReadonlyMap<string, string> = new Map([
  ['sid', 'I'],
  ['grantId', 'G'],
  ['persistsLogout', 'X'],
]);

/**
 * A token's grant types (`gty`, space-separated: "authorization_code refresh_token" once a
 * refresh rotated it), each by one letter. Grant type names never are one letter.
 */
const GRANT_TYPES: ReadonlyMap<string, string> = new Map([
  ['authorization_code', 'c'],
  ['refresh_token', 'r'],
  ['device_code', 'd'],
  ['pre_authorized_code', 'p'],
]);

const invert = (codes: ReadonlyMap<string, string>): ReadonlyMap<string, string> =>
  new Map([...codes].map(([name, code]) => [code, name]));

const TOP_LEVEL_NAMES = invert(TOP_LEVEL);
const PER_CLIENT_NAMES = invert(PER_CLIENT);
const GRANT_TYPE_NAMES = invert(GRANT_TYPES);

/** The letter a field is written as (its own name when it has none). */
export const storedName = (field: string): string => TOP_LEVEL.get(field) ?? field;

function renamed(object: Record<string, unknown>, names: ReadonlyMap<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object)) out[names.get(key) ?? key] = object[key];
  return out;
}

function renamedPerClient(authorizations: unknown, names: ReadonlyMap<string, string>): unknown {
  if (typeof authorizations !== 'object' || authorizations === null) return authorizations;
  const out: Record<string, unknown> = {};
  for (const [client, entry] of Object.entries(authorizations as Record<string, unknown>)) {
    out[client] =
      typeof entry === 'object' && entry !== null ? renamed(entry as Record<string, unknown>, names) : entry;
  }
  return out;
}

function recoded(gty: unknown, codes: ReadonlyMap<string, string>): unknown {
  if (typeof gty !== 'string') return gty;
  const whole = codes.get(gty);
  if (whole !== undefined) return whole;
  return gty.includes(' ')
    ? gty
        .split(' ')
        .map((word) => codes.get(word) ?? word)
        .join(' ')
    : gty;
}

/** Monban's own authentication classes (src/oidc/acr.ts) start so: written as `~` and the rest. */
const ACR_PREFIX = 'urn:monban:acr:';

/** How a field's value is shortened for storage, and put back. */
interface ValueCodec {
  short(value: unknown): unknown;
  full(value: unknown): unknown;
}

const VALUES: ReadonlyMap<string, ValueCodec> = new Map<string, ValueCodec>([
  // 1 for true: the only value it ever has when written (a false or absent flag is left out).
  [
    'expiresWithSession',
    { short: (value) => (value === true ? 1 : value), full: (value) => (value === 1 ? true : value) },
  ],
  ['gty', { short: (value) => recoded(value, GRANT_TYPES), full: (value) => recoded(value, GRANT_TYPE_NAMES) }],
  [
    'acr',
    {
      short: (value) =>
        typeof value === 'string' && value.startsWith(ACR_PREFIX) ? `~${value.slice(ACR_PREFIX.length)}` : value,
      full: (value) => (typeof value === 'string' && value.startsWith('~') ? `${ACR_PREFIX}${value.slice(1)}` : value),
    },
  ],
  [
    'authorizations',
    {
      short: (value) => renamedPerClient(value, PER_CLIENT),
      full: (value) => renamedPerClient(value, PER_CLIENT_NAMES),
    },
  ],
]);

/** What is stored for a payload of `model` under `id`. */
export function encodePayload(payload: AdapterPayload, model: string, id: string): string {
  const fields = payload as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const put = (key: string) => {
    const value = fields[key];
    if (value === undefined) return;
    const codec = VALUES.get(key);
    out[TOP_LEVEL.get(key) ?? key] = codec ? codec.short(value) : value;
  };
  for (const key of LEADING) put(key);
  for (const key in fields) {
    if (key === 'consumed' || LEADING.includes(key)) continue;
    if ((key === 'kind' && fields.kind === model) || (key === 'jti' && fields.jti === id && fields.kind === model))
      continue;
    put(key);
  }
  return JSON.stringify(out);
}

/** The payload a stored value holds (consumed mark, kind and jti put back); undefined for none. */
export function decodePayload(stored: string | null, model: string, id: string): AdapterPayload | undefined {
  if (stored === null) return undefined;
  const bar = stored.startsWith('{') ? -1 : stored.indexOf('|');
  const parsed = JSON.parse(bar < 0 ? stored : stored.slice(bar + 1)) as Record<string, unknown>;
  const fields = renamed(parsed, TOP_LEVEL_NAMES);
  for (const [field, codec] of VALUES) if (fields[field] !== undefined) fields[field] = codec.full(fields[field]);
  const payload = fields as AdapterPayload;
  if (bar >= 0) payload.consumed = Number(stored.slice(0, bar));
  if (payload.kind === undefined) {
    payload.kind = model;
    payload.jti ??= id;
  }
  return payload;
}
