import type { AdapterPayload } from 'oidc-provider';

/*
 * How a model's payload is written to Redis: JSON without its consumed mark and without the kind
 * and jti that its key already names, and with its longest field names cut to one capital letter,
 * which no oidc-provider model uses as a field name. A live session's keys are about a tenth
 * smaller (issue 16). A payload written before (full names, kind and jti) is read as it is.
 *
 * Some values are shortened too: the expires-with-session flag is 1 for true, a token's grant
 * types are a letter each, and Monban's own `acr` values lose their common prefix. The grant id, the session uid and that flag come first, in that
 * order, so the Lua scripts find them at the start of the value (redis-adapter.ts,
 * FIND_WITH_GRANT) rather than anywhere inside it, where a nested object (a claims request)
 * could hold the same name.
 */

/** The fields written first, in this order (as G, S and W). */
const LEADING = new Set(['grantId', 'sessionUid', 'expiresWithSession']);

const TOP_LEVEL: Record<string, string> = {
  grantId: 'G',
  sessionUid: 'S',
  expiresWithSession: 'W',
  accountId: 'A',
  clientId: 'C',
  codeChallenge: 'H',
  codeChallengeMethod: 'K',
  redirectUri: 'R',
  authorizations: 'Z',
  loginTs: 'L',
  uid: 'U',
  scope: 'P',
  openid: 'O',
  gty: 'Y',
  amr: 'M',
  acr: 'Q',
  nonce: 'N',
};

/**
 * A token's grant types (`gty`, space-separated: "authorization_code refresh_token" once a
 * refresh rotated it), each by one letter. Grant type names never are one letter.
 */
const GRANT_TYPES: Record<string, string> = {
  authorization_code: 'c',
  refresh_token: 'r',
  device_code: 'd',
  pre_authorized_code: 'p',
};
const GRANT_TYPE_NAMES = Object.fromEntries(Object.entries(GRANT_TYPES).map(([name, code]) => [code, name]));

function recoded(gty: unknown, codes: Record<string, string>): unknown {
  if (typeof gty !== 'string') return gty;
  const whole = codes[gty];
  if (whole !== undefined) return whole;
  return gty.includes(' ')
    ? gty
        .split(' ')
        .map((word) => codes[word] ?? word)
        .join(' ')
    : gty;
}

/** Monban's own authentication classes (src/oidc/acr.ts) start so: written as `~` and the rest. */
const ACR_PREFIX = 'urn:monban:acr:';

const shortAcr = (acr: unknown): unknown =>
  typeof acr === 'string' && acr.startsWith(ACR_PREFIX) ? `~${acr.slice(ACR_PREFIX.length)}` : acr;
const fullAcr = (acr: unknown): unknown =>
  typeof acr === 'string' && acr.startsWith('~') ? `${ACR_PREFIX}${acr.slice(1)}` : acr;

/** A session's entry per client (`authorizations`). */
const PER_CLIENT: Record<string, string> = { sid: 'I', grantId: 'G', persistsLogout: 'X' };
const PER_CLIENT_CODES: ReadonlyMap<string, string> = new Map(Object.entries(PER_CLIENT));

const invert = (codes: Record<string, string>): ReadonlyMap<string, string> =>
  new Map(Object.entries(codes).map(([name, code]) => [code, name]));

const TOP_LEVEL_NAMES = invert(TOP_LEVEL);
const PER_CLIENT_NAMES = invert(PER_CLIENT);

/** The letter a field is written as (its own name when it has none). */
export const storedName = (field: string): string => TOP_LEVEL[field] ?? field;

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

/** What is stored for a payload of `model` under `id`. */
export function encodePayload(payload: AdapterPayload, model: string, id: string): string {
  const fields = payload as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  if (fields.grantId !== undefined) out.G = fields.grantId;
  if (fields.sessionUid !== undefined) out.S = fields.sessionUid;
  // 1 for true: the only value it ever has when written (a false or absent flag is left out).
  if (fields.expiresWithSession !== undefined)
    out.W = fields.expiresWithSession === true ? 1 : fields.expiresWithSession;
  for (const key in fields) {
    if (key === 'consumed' || LEADING.has(key)) continue;
    if ((key === 'kind' && fields.kind === model) || (key === 'jti' && fields.jti === id && fields.kind === model))
      continue;
    const value = fields[key];
    if (value === undefined) continue;
    out[TOP_LEVEL[key] ?? key] =
      key === 'authorizations'
        ? renamedPerClient(value, PER_CLIENT_CODES)
        : key === 'gty'
          ? recoded(value, GRANT_TYPES)
          : key === 'acr'
            ? shortAcr(value)
            : value;
  }
  return JSON.stringify(out);
}

/** The payload a stored value holds (consumed mark, kind and jti put back); undefined for none. */
export function decodePayload(stored: string | null, model: string, id: string): AdapterPayload | undefined {
  if (stored === null) return undefined;
  const bar = stored.startsWith('{') ? -1 : stored.indexOf('|');
  const parsed = JSON.parse(bar < 0 ? stored : stored.slice(bar + 1)) as Record<string, unknown>;
  const payload = renamed(parsed, TOP_LEVEL_NAMES) as AdapterPayload;
  if ((payload.expiresWithSession as unknown) === 1) payload.expiresWithSession = true;
  if (payload.gty !== undefined) payload.gty = recoded(payload.gty, GRANT_TYPE_NAMES) as string;
  if (payload.acr !== undefined) payload.acr = fullAcr(payload.acr) as string;
  if (payload.authorizations !== undefined)
    payload.authorizations = renamedPerClient(
      payload.authorizations,
      PER_CLIENT_NAMES,
    ) as AdapterPayload['authorizations'];
  if (bar >= 0) payload.consumed = Number(stored.slice(0, bar));
  if (payload.kind === undefined) {
    payload.kind = model;
    payload.jti ??= id;
  }
  return payload;
}
