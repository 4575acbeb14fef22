import type { AdapterPayload } from 'oidc-provider';
import { BoundedMap } from '../../bounded-map.js';

/*
 * How a model's payload is written to Redis: JSON without its consumed mark and without the kind
 * and jti that its key already names, and with its longest field names cut to one capital letter,
 * which no oidc-provider model uses as a field name. A live session's keys are about a tenth
 * smaller (issue 16). A payload written before (full names, kind and jti) is read as it is.
 *
 * Some values are shortened too (VALUES): Monban's account ids (UUIDs) are 22 base64url
 * characters after a `~`, the expires-with-session flag is 1 for true, a token's grant types are
 * a letter each, S256 is 1, and Monban's own `acr` values lose their common prefix. A payload's
 * expiry is written as seconds after its `iat` (E). The grant id and the session uid come first,
 * in that order, so the Lua scripts find them at the start of the value (redis-adapter.ts,
 * FIND_WITH_GRANT) rather than anywhere inside it, where a nested object (a claims request) could
 * hold the same name; a token that expires with its session has its session uid as `s` rather
 * than `S`, which stands for the flag as well.
 *
 * jemalloc rounds each value up to a size class (..., 128, 160, 192, 224, 256, 320 bytes), so a
 * few bytes less only pay where they take a value below a class boundary: an access token from a
 * login, a grant and a consumed code each drop one class with these.
 */

/** A token's session uid when it expires with that session (S with W true, in one). */
const SESSION_BOUND = 's';

/** A payload's `exp` as seconds after its `iat`. */
const EXPIRES_AFTER = 'E';

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
  ['iat', 'T'],
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

/** A grant's `openid` entry (the scope and claims it allows for OpenID Connect). */
const OPENID: ReadonlyMap<string, string> = new Map([['scope', 'P']]);
const OPENID_NAMES = invert(OPENID);

/** The letter a field is written as (its own name when it has none). */
export const storedName = (field: string): string =>
  field === 'exp' ? EXPIRES_AFTER : (TOP_LEVEL.get(field) ?? field);

function renamed(object: Record<string, unknown>, names: ReadonlyMap<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(object)) out[names.get(key) ?? key] = object[key];
  return out;
}

function renamedIfObject(value: unknown, names: ReadonlyMap<string, string>): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? renamed(value as Record<string, unknown>, names)
    : value;
}

function renamedPerClient(authorizations: unknown, names: ReadonlyMap<string, string>): unknown {
  if (typeof authorizations !== 'object' || authorizations === null) return authorizations;
  const out: Record<string, unknown> = {};
  for (const [client, entry] of Object.entries(authorizations as Record<string, unknown>)) {
    out[client] = renamedIfObject(entry, names);
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

/** Monban's account ids are PostgreSQL UUIDs, which print in lower case. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const COMPACT_UUID = /^~[A-Za-z0-9_-]{22}$/;

/**
 * The same few account ids are converted again and again (every token of a login names its
 * account), so conversions are remembered, up to a bound.
 */
const convertedUuids = new BoundedMap<string, string>(10_000);

function converted(value: string, convert: (value: string) => string): string {
  let result = convertedUuids.get(value);
  if (result === undefined) {
    result = convert(value);
    convertedUuids.set(value, result);
  }
  return result;
}

const toCompactUuid = (uuid: string) => `~${Buffer.from(uuid.replaceAll('-', ''), 'hex').toString('base64url')}`;

function toFullUuid(compact: string): string {
  const hex = Buffer.from(compact.slice(1), 'base64url').toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function compactUuid(value: unknown): unknown {
  if (typeof value !== 'string' || !UUID.test(value)) return value;
  return converted(value, toCompactUuid);
}

function fullUuid(value: unknown): unknown {
  if (typeof value !== 'string' || !COMPACT_UUID.test(value)) return value;
  return converted(value, toFullUuid);
}

/** How a field's value is shortened for storage, and put back. */
interface ValueCodec {
  short(value: unknown): unknown;
  full(value: unknown): unknown;
}

const VALUES: ReadonlyMap<string, ValueCodec> = new Map<string, ValueCodec>([
  ['accountId', { short: compactUuid, full: fullUuid }],
  // 1 for true: the only value it ever has when written (a false or absent flag is left out).
  [
    'expiresWithSession',
    { short: (value) => (value === true ? 1 : value), full: (value) => (value === 1 ? true : value) },
  ],
  ['gty', { short: (value) => recoded(value, GRANT_TYPES), full: (value) => recoded(value, GRANT_TYPE_NAMES) }],
  // PKCE's S256 (RFC 7636), the only method oidc-provider accepts unless told otherwise.
  [
    'codeChallengeMethod',
    { short: (value) => (value === 'S256' ? 1 : value), full: (value) => (value === 1 ? 'S256' : value) },
  ],
  [
    'openid',
    { short: (value) => renamedIfObject(value, OPENID), full: (value) => renamedIfObject(value, OPENID_NAMES) },
  ],
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

/** The letter a field is written as, with its value shortened. */
function putShort(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) return;
  const codec = VALUES.get(key);
  out[TOP_LEVEL.get(key) ?? key] = codec ? codec.short(value) : value;
}

/** What is stored for a payload of `model` under `id`. */
export function encodePayload(payload: AdapterPayload, model: string, id: string): string {
  const fields = payload as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  // Written first, in this order: G, then S and W (or s for both).
  putShort(out, 'grantId', fields.grantId);
  if (fields.expiresWithSession === true && typeof fields.sessionUid === 'string')
    out[SESSION_BOUND] = fields.sessionUid;
  else {
    putShort(out, 'sessionUid', fields.sessionUid);
    putShort(out, 'expiresWithSession', fields.expiresWithSession);
  }
  const named = fields.kind === model;
  for (const key in fields) {
    if (key === 'consumed' || key === 'grantId' || key === 'sessionUid' || key === 'expiresWithSession') continue;
    if (named && (key === 'kind' || (key === 'jti' && fields.jti === id))) continue;
    if (key === 'exp' && typeof fields.exp === 'number' && typeof fields.iat === 'number')
      out[EXPIRES_AFTER] = fields.exp - fields.iat;
    else putShort(out, key, fields[key]);
  }
  return JSON.stringify(out);
}

/** The payload a stored value holds (consumed mark, kind and jti put back); undefined for none. */
export function decodePayload(stored: string | null, model: string, id: string): AdapterPayload | undefined {
  if (stored === null) return undefined;
  const bar = stored.startsWith('{') ? -1 : stored.indexOf('|');
  const parsed = JSON.parse(bar < 0 ? stored : stored.slice(bar + 1)) as Record<string, unknown>;
  const fields: Record<string, unknown> = {};
  let expiresAfter: unknown;
  for (const key of Object.keys(parsed)) {
    const value = parsed[key];
    if (key === SESSION_BOUND) {
      fields.sessionUid = value;
      fields.expiresWithSession = true;
    } else if (key === EXPIRES_AFTER) expiresAfter = value;
    else {
      const name = TOP_LEVEL_NAMES.get(key) ?? key;
      const codec = VALUES.get(name);
      fields[name] = codec ? codec.full(value) : value;
    }
  }
  // Written only with a numeric iat; without one, it counts as long expired.
  if (expiresAfter !== undefined)
    fields.exp = typeof fields.iat === 'number' && typeof expiresAfter === 'number' ? fields.iat + expiresAfter : 0;
  const payload = fields as AdapterPayload;
  if (bar >= 0) payload.consumed = Number(stored.slice(0, bar));
  if (payload.kind === undefined) {
    payload.kind = model;
    payload.jti ??= id;
  }
  return payload;
}
