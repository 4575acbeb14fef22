import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';
import type { RedisClient } from '../../redis/client.js';
import { alreadyConsumed } from './errors.js';
import { holdConsume, holdWrite, sendHeldWrites, type HeldWrite } from './held-writes.js';
import { leaveInFlight, withWritesInFlight } from './pipelined-writes.js';
import { dropPrefetched, dropPrefetchedUnder, keepPrefetched, takePrefetched } from './prefetched-models.js';
import { decodePayload as decode, encodePayload as encode, storedName } from './stored-payload.js';

/*
 * Each model is one string key holding its JSON payload, prefixed with `<epoch>|` once it is
 * consumed, written as stored-payload.ts says: without the `kind` and `jti` that the key names,
 * and with short names for the longest fields (a payload written before is read as it is).
 *
 * A token is only ever read together with its grant's revocation mark, a key that says until
 * when (in seconds) every token of the grant is revoked: revokeByGrantId writes it, and a token
 * issued up to then is not found. It exists only where a grant outlives such a revocation (an
 * app revoking one of its access tokens, RFC 7009, after which oidc-provider ends the grant's
 * tokens and keeps the grant); every other revocation ends the grant, and the mark with it.
 * Refresh tokens, which live for days, are also listed in their grant's index, a small hash of
 * `<model code>:<id>`, so that a revocation deletes them at once; the short-lived tokens
 * (access tokens, codes) are not, and are left to run out, which costs a login's session a key
 * less (issue 16). Every write is one command (a small Lua script where two steps must happen
 * together). Keys carry a hash tag: a model's own id, and for a grant its id, which its index and
 * its mark share (`{grantId}`), so they live in one slot. There is no global tag: keys spread over
 * the cluster. On a Redis Cluster every script stays in one slot; on one Redis server a save also
 * writes the grant's index and the pointers in the same script, and a lookup by pointer reads the
 * pointer and the model in one, and a token is read with its grant and, when it expires with its
 * session, that session (prefetched-models.ts). Within a request, a consume and the saves that
 * follow it go out as one script on one server (held-writes.ts), and without waiting on a cluster;
 * the next call waits for them with its own (pipelined-writes.ts). On a page every write waits for
 * the answer and they all go as one script. Fewer round trips per login, refresh and userinfo
 * call.
 */

// Saves a payload; a re-save never un-consumes. KEYS[1]: the model. ARGV: payload, seconds to
// live (0: none), consumed epoch ('' if not). On one server only, the same script may also write
// what goes with the model: when ARGV[4] is there and not '', KEYS[2] is the grant's index,
// which gets ARGV[4] (as INDEX does); every further key is a pointer set to ARGV[5], the model's
// id.
const UPSERT_FUNCTION = `
local function upsert(KEYS, ARGV)
  local mark = ARGV[3]
  local old = redis.call('GET', KEYS[1])
  if old and string.byte(old, 1) ~= 123 then mark = string.match(old, '^(%d+)|') or mark end
  local value = ARGV[1]
  if mark ~= '' then value = mark .. '|' .. value end
  local ttl = ARGV[2]
  if ttl ~= '0' then redis.call('SET', KEYS[1], value, 'EX', ttl) else redis.call('SET', KEYS[1], value) end
  local first = 2
  if (ARGV[4] or '') ~= '' then
    redis.call('HSET', KEYS[2], ARGV[4], '')
    if ttl ~= '0' then
      redis.call('EXPIRE', KEYS[2], ttl, 'NX')
      redis.call('EXPIRE', KEYS[2], ttl, 'GT')
    end
    first = 3
  end
  for i = first, #KEYS do
    if ttl ~= '0' then redis.call('SET', KEYS[i], ARGV[5], 'EX', ttl) else redis.call('SET', KEYS[i], ARGV[5]) end
  end
  return 1
end
`;
const UPSERT = `${UPSERT_FUNCTION}return upsert(KEYS, ARGV)`;

// One server only (hence the flags; a cluster refuses it): reads a pointer (KEYS[1]) and then the
// model it names, whose key is ARGV[1] .. id .. '}' (not declared: it is only known once the
// pointer is read). Returns false, or {id, the stored model or false}.
const FIND_BY_POINTER = `#!lua flags=no-writes,no-cluster
local id = redis.call('GET', KEYS[1])
if not id then return false end
return {id, redis.call('GET', ARGV[1] .. id .. '}')}
`;

// One server only, like FIND_BY_POINTER: reads a token (KEYS[1]) and the grant its payload names,
// whose key is ARGV[1] .. grantId .. '}', and for a token that expires with its session, that
// session by its uid: the pointer ARGV[2] .. sessionUid .. '}', then ARGV[3] .. id .. '}'. When
// ARGV[4] is there and not '', it is a key read as well, found or not (another model under the
// same id); the grant's revocation mark is ARGV[5] .. grantId .. '}'. Returns false when neither
// token nor ARGV[4] is found, else {token or false, grantId or false, grant or false, sessionUid
// or false, session id or false, session or false, ARGV[4]'s value or false, mark or false}.
// The grant id and the session uid (as s, which says the token expires with it) open the JSON
// (stored-payload.ts), after a consumed mark if any; the release before wrote the uid as S and the
// flag as W. A value written before that has them by their full names anywhere in it: JSON escapes
// quotes inside strings, so '"grantId":"' is a key; should a nested object have one too, what is
// kept under that id is simply never asked for.
const FIND_WITH_GRANT = `#!lua flags=no-writes,no-cluster
local value = redis.call('GET', KEYS[1])
local sibling = (ARGV[4] or '') ~= '' and redis.call('GET', ARGV[4])
if not value then
  if sibling then return {false, false, false, false, false, false, sibling} end
  return false
end
local grantId, sessionUid = string.match(value, '^%d*|?{"G":"([^"]+)","s":"([^"]+)"')
if not grantId then grantId, sessionUid = string.match(value, '^%d*|?{"G":"([^"]+)","S":"([^"]+)","W":1[,}]') end
if not grantId then grantId = string.match(value, '^%d*|?{"G":"([^"]+)"') end
if not grantId then
  grantId = string.match(value, '"grantId":"([^"]+)"')
  if string.find(value, '"expiresWithSession":true', 1, true) then
    sessionUid = string.match(value, '"sessionUid":"([^"]+)"')
  end
end
grantId = grantId or false
sessionUid = sessionUid or false
local grant = grantId and redis.call('GET', ARGV[1] .. grantId .. '}')
local revokedUpTo = grantId and redis.call('GET', ARGV[5] .. grantId .. '}')
local sessionId = sessionUid and redis.call('GET', ARGV[2] .. sessionUid .. '}')
local session = sessionId and redis.call('GET', ARGV[3] .. sessionId .. '}')
return {value, grantId, grant, sessionUid, sessionId, session, sibling, revokedUpTo}
`;

/** Models oidc-provider reads just before their grant (and session): read with them, in one round trip. */
const READ_WITH_GRANT = new Set([
  'AccessToken',
  'AuthorizationCode',
  'BackchannelAuthenticationRequest',
  'DeviceCode',
  'RefreshToken',
]);

/** Where oidc-provider looks a token up as an access token and a client credentials token at once (token_find.js). */
const TOKEN_LOOKUP_ROUTES = new Set(['introspection', 'revocation']);

/** Models a find takes from what an earlier read in the request brought (prefetched-models.ts). */
const PREFETCHABLE = new Set(['Grant', 'ClientCredentials']);

/**
 * Consumed at the token endpoint, where oidc-provider then always saves the tokens it issues: the
 * consume's answer is waited for by that save (pipelined-writes.ts).
 */
const PIPELINED_CONSUMES = new Set(['AuthorizationCode', 'RefreshToken']);

// Marks a model consumed only if it exists and is not consumed yet, in one step. ARGV[1]: the
// epoch; ARGV[2]: 'mark' (keep it, marked) or 'delete' (what is used once and then only needs to
// be gone); ARGV[3..]: when marking, the only fields worth keeping, in the order they are then
// written (none named: all of them, as they were).
// Returns 1 when this call consumed it, 0 when it was consumed already, -1 when it is gone.
const CONSUME_FUNCTION = `
local function consume(KEYS, ARGV)
  local value = redis.call('GET', KEYS[1])
  if not value then return -1 end
  if string.byte(value, 1) ~= 123 then return 0 end
  if ARGV[2] == 'delete' then
    redis.call('DEL', KEYS[1])
    return 1
  end
  if #ARGV > 2 then
    local full = cjson.decode(value)
    local kept = {}
    for i = 3, #ARGV do
      -- cjson escapes every slash, which JSON does not need (RFC 8259 7): a redirect URI has several.
      if full[ARGV[i]] ~= nil then kept[#kept + 1] = cjson.encode(ARGV[i]) .. ':' .. (string.gsub(cjson.encode(full[ARGV[i]]), '\\\\/', '/')) end
    end
    value = '{' .. table.concat(kept, ',') .. '}'
  end
  redis.call('SET', KEYS[1], ARGV[1] .. '|' .. value, 'KEEPTTL')
  return 1
end
`;
const CONSUME = `${CONSUME_FUNCTION}return consume(KEYS, ARGV)`;

// One server only: a request's held writes (held-writes.ts) in one step. KEYS: every write's
// keys in turn. ARGV[1]: how many writes; then for each, 'consume', 'save' or 'delete', its
// number of keys and of arguments, and the arguments, as CONSUME and UPSERT take them (a delete
// takes none). A consume that finds its model consumed or gone ends the script: returns its
// position (1-based), else 0.
const BATCH = `#!lua flags=no-cluster
${CONSUME_FUNCTION}${UPSERT_FUNCTION}
local k, a = 1, 2
for position = 1, tonumber(ARGV[1]) do
  local op, keyCount, argCount = ARGV[a], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local keys, args = {}, {}
  for i = 1, keyCount do keys[i] = KEYS[k + i - 1] end
  for i = 1, argCount do args[i] = ARGV[a + 2 + i] end
  k, a = k + keyCount, a + 3 + argCount
  if op == 'consume' then
    if consume(keys, args) ~= 1 then return position end
  elseif op == 'delete' then
    redis.call('UNLINK', unpack(keys))
  else
    upsert(keys, args)
  end
end
return 0
`;

/**
 * What a consumed model keeps for the rest of its life, which is only there to catch a replay.
 * A replayed authorization code gets as far as oidc-provider's consumed check, which revokes the
 * grant's tokens (RFC 6749 4.1.2), only if it still passes the checks before it: its client,
 * expiry, grant, PKCE, redirect URI and attestation binding (grant_source.js and
 * grants/authorization_code.js). The account, nonce, scope and claims go: a consumed code holds
 * about half the bytes, and nothing about the person.
 */
const KEPT_ONCE_CONSUMED: Record<string, string[]> = {
  // By stored name (the grant's id first, where FIND_WITH_GRANT looks), then by full name for a
  // code written before the short names.
  AuthorizationCode: [
    'grantId',
    'iat',
    'exp',
    'clientId',
    'codeChallenge',
    'codeChallengeMethod',
    'redirectUri',
    'attestationJkt',
  ].flatMap((field) => (storedName(field) === field ? [field] : [storedName(field), field])),
};

/** Used once, then only needs to be gone: a WebAuthn challenge (src/identity/passkeys/challenges.ts). */
const DELETED_ONCE_CONSUMED = new Set(['PasskeyChallenge']);

/** Models listed in their grant's index: they live for days, too long to leave a revoked one to run out. */
const INDEXED = new Set(['RefreshToken']);

// Revokes a grant's tokens: KEYS[1] the grant, KEYS[2] its revocation mark, KEYS[3] its index,
// KEYS[4] the set that indexed it before the hash did; ARGV[1] now (epoch seconds). While the
// grant exists, the mark says now (or a later time it already said) and lives as long as the
// grant. Returns the index's members and the old set's.
const REVOKE = `
if redis.call('EXISTS', KEYS[1]) == 1 then
  local mark = tonumber(redis.call('GET', KEYS[2]) or '0')
  if mark < tonumber(ARGV[1]) then mark = ARGV[1] end
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then redis.call('SET', KEYS[2], mark, 'PX', ttl) else redis.call('SET', KEYS[2], mark) end
end
return {redis.call('HKEYS', KEYS[3]), redis.call('SMEMBERS', KEYS[4])}
`;

// Adds a member to a grant's index; the index lives as long as its longest member (TTL only extended).
const INDEX = `
redis.call('HSET', KEYS[1], ARGV[1], '')
if ARGV[2] ~= '0' then
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'NX')
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT')
end
return 1
`;

/**
 * Models oidc-provider never consumes: saved without a grant index or pointers, they are one plain
 * SET (there is no consumed mark to keep, so no script).
 */
const NEVER_CONSUMED = new Set([
  'AccessToken',
  'ClientCredentials',
  'Grant',
  'Interaction',
  'Session',
  'ReplayDetection',
]);

interface AdapterScripts {
  monbanSave(...args: string[]): Promise<unknown>;
  monbanFindByPointer(pointer: string, modelKeyStart: string): Promise<[string, string | null] | null>;
  monbanFindWithGrant(
    key: string,
    grantKeyStart: string,
    sessionPointerStart: string,
    sessionKeyStart: string,
    siblingKey: string,
    revocationMarkStart: string,
  ): Promise<(string | null)[] | null>;
  monbanConsume(key: string, ...nowModeKept: string[]): Promise<number>;
  monbanIndex(key: string, member: string, ttl: string): Promise<unknown>;
  monbanRevoke(
    grant: string,
    mark: string,
    index: string,
    legacyIndex: string,
    now: string,
  ): Promise<[string[], string[]]>;
  monbanBatch(...args: string[]): Promise<number>;
}

/** ioredis sends EVALSHA, and the script itself only the first time a server does not know it. */
function withScripts(redis: RedisClient): RedisClient & AdapterScripts {
  if (!('monbanSave' in redis)) {
    redis.defineCommand('monbanSave', { lua: UPSERT });
    redis.defineCommand('monbanFindByPointer', { numberOfKeys: 1, lua: FIND_BY_POINTER });
    redis.defineCommand('monbanFindWithGrant', { numberOfKeys: 1, lua: FIND_WITH_GRANT });
    redis.defineCommand('monbanConsume', { numberOfKeys: 1, lua: CONSUME });
    redis.defineCommand('monbanIndex', { numberOfKeys: 1, lua: INDEX });
    redis.defineCommand('monbanRevoke', { numberOfKeys: 4, lua: REVOKE });
    redis.defineCommand('monbanBatch', { lua: BATCH });
  }
  return redis as RedisClient & AdapterScripts;
}

/** How a grant's index names its members' models: short, so each member stays a listpack entry. */
const INDEX_CODES: Record<string, string> = {
  AccessToken: 'AT',
  AuthorizationCode: 'AC',
  BackchannelAuthenticationRequest: 'BA',
  DeviceCode: 'DC',
  Interaction: 'IN',
  RefreshToken: 'RT',
};

const indexCode = (model: string) => INDEX_CODES[model] ?? model;

/**
 * A token issued up to its grant's revocation mark (epoch seconds) is revoked. Within the mark's
 * own second the order is unknown: such a token counts as revoked.
 */
function unlessRevoked(payload: AdapterPayload | undefined, revokedUpTo: string | null): AdapterPayload | undefined {
  if (!payload || revokedUpTo === null) return payload;
  return typeof payload.iat === 'number' && payload.iat > Number(revokedUpTo) ? payload : undefined;
}

/** oidc-provider models in Redis (or a Redis Cluster), with pointers by interaction uid and device user code. */
export class RedisAdapter implements Adapter {
  readonly #redis: RedisClient & AdapterScripts;
  /** A Redis Cluster: each command and script within one slot. */
  readonly #cluster: boolean;

  constructor(
    redis: RedisClient,
    private readonly model: string,
    private readonly prefix: string,
  ) {
    this.#redis = withScripts(redis);
    this.#cluster = redis.isCluster;
  }

  /** Where a model's key starts: its id and `}` follow. */
  #keyStart(model = this.model): string {
    return `${this.prefix}oidc:${model}:{`;
  }

  /** A model's key: this adapter's model unless another is named (a token's grant). */
  #key(id: string, model = this.model): string {
    return `${this.#keyStart(model)}${id}}`;
  }

  /** The grant's index of tokens: in the slot of the Grant model itself. */
  #grantIndexKey(grantId: string): string {
    return `${this.prefix}oidc:Grant:tokens:{${grantId}}`;
  }

  /** Where a grant's revocation mark starts: the grant's id and `}` follow. */
  #revocationMarkStart(): string {
    return `${this.prefix}oidc:Grant:revoked:{`;
  }

  /** Until when (epoch seconds) every token of the grant is revoked: in the slot of the Grant itself. */
  #revocationMarkKey(grantId: string): string {
    return `${this.#revocationMarkStart()}${grantId}}`;
  }

  /**
   * The set of full keys that indexed a grant's tokens before the hash did; read by a revocation
   * until every such set has expired with its tokens.
   */
  #legacyGrantIndexKey(grantId: string): string {
    return `${this.prefix}oidc:grant:{${grantId}}`;
  }

  /** Where a model's pointers of one kind start: the value and `}` follow. */
  #pointerStart(kind: 'uid' | 'userCode', model = this.model): string {
    return `${this.prefix}oidc:${model}:${kind}:{`;
  }

  #pointerKey(kind: 'uid' | 'userCode', value: string, model = this.model): string {
    return `${this.#pointerStart(kind, model)}${value}}`;
  }

  /** Sends a request's held writes as one BATCH script (held-writes.ts); a write alone as its own command. */
  readonly #sendBatch = (writes: HeldWrite[]): Promise<number> => {
    const [only] = writes;
    if (only && writes.length === 1) return only.alone();
    return this.#redis.monbanBatch(
      String(writes.reduce((sum, write) => sum + write.keys.length, 0)),
      ...writes.flatMap((write) => write.keys),
      String(writes.length),
      ...writes.flatMap((write) => [write.op, String(write.keys.length), String(write.args.length), ...write.args]),
    );
  };

  /** A model or a session written in this request is read from Redis again (prefetched-models.ts). */
  #dropPrefetched(key: string): void {
    if (PREFETCHABLE.has(this.model)) dropPrefetched(key);
    if (this.model === 'Session') dropPrefetchedUnder(this.#pointerStart('uid'));
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const key = this.#key(id);
    this.#dropPrefetched(key);
    const ttl = String(expiresIn ?? 0);
    const consumed = payload.consumed as unknown;
    const json = encode(payload, this.model, id);
    const save = [json, ttl, typeof consumed === 'number' || typeof consumed === 'string' ? String(consumed) : ''];
    const index = payload.grantId && INDEXED.has(this.model) ? this.#grantIndexKey(payload.grantId) : undefined;
    const member = index ? `${indexCode(this.model)}:${id}` : '';
    const pointers: string[] = [];
    if (payload.uid) pointers.push(this.#pointerKey('uid', payload.uid));
    if (payload.userCode) pointers.push(this.#pointerKey('userCode', payload.userCode));
    const keys = [key, ...(index ? [index] : []), ...pointers];
    const args = [...save, member, id];
    if (!this.#cluster) {
      // A plain SET where there is no consumed mark to keep, else one script for the model, its
      // grant's index and its pointers.
      const saveAlone =
        !index && pointers.length === 0 && NEVER_CONSUMED.has(this.model)
          ? () => (expiresIn ? this.#redis.set(key, json, 'EX', expiresIn) : this.#redis.set(key, json))
          : () => this.#redis.monbanSave(String(keys.length), ...keys, ...args);
      const write: HeldWrite = { op: 'save', model: this.model, keys, args, alone: () => saveAlone().then(() => 0) };
      const held = holdWrite(write, this.#sendBatch);
      // After a consume only the refresh token that replaces the one consumed is left in flight:
      // the access token's save sends the batch, so a lost race reaches oidc-provider as
      // invalid_grant.
      const waits = held?.afterConsume === true && this.model !== 'RefreshToken';
      if (held && !waits && leaveInFlight(this.model, 'save', held.answered)) return;
      sendHeldWrites();
      await withWritesInFlight<unknown>(held ? held.answered : saveAlone());
      return;
    }
    const writes: Promise<unknown>[] = [this.#redis.monbanSave('1', key, ...save)];
    if (index) writes.push(this.#redis.monbanIndex(index, member, ttl));
    for (const pointer of pointers) {
      writes.push(expiresIn ? this.#redis.set(pointer, id, 'EX', expiresIn) : this.#redis.set(pointer, id));
    }
    await withWritesInFlight(Promise.all(writes));
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    sendHeldWrites();
    const key = this.#key(id);
    const prefetched = PREFETCHABLE.has(this.model) ? takePrefetched(key) : undefined;
    if (prefetched !== undefined) return (await prefetched) ?? undefined;
    if (!READ_WITH_GRANT.has(this.model)) return decode(await withWritesInFlight(this.#redis.get(key)), this.model, id);
    if (this.#cluster) return this.#findInCluster(key, id);
    const sibling = this.#lookedUpWith(id);
    const read = this.#redis.monbanFindWithGrant(
      key,
      this.#keyStart('Grant'),
      this.#pointerStart('uid', 'Session'),
      this.#keyStart('Session'),
      sibling ?? '',
      this.#revocationMarkStart(),
    );
    if (sibling) {
      const siblingRead = read.then((found) => decode(found?.[6] ?? null, 'ClientCredentials', id) ?? null);
      siblingRead.catch(() => undefined); // its own find sees the failure; unasked, it is not unhandled
      keepPrefetched(sibling, siblingRead);
    }
    const [stored = null, grantId, grant = null, sessionUid, sessionId, session = null, , revokedUpTo = null] =
      (await withWritesInFlight(read)) ?? [];
    if (grantId) keepPrefetched(this.#key(grantId, 'Grant'), decode(grant, 'Grant', grantId) ?? null);
    if (sessionUid)
      keepPrefetched(
        this.#pointerKey('uid', sessionUid, 'Session'),
        sessionId ? (decode(session, 'Session', sessionId) ?? null) : null,
      );
    return unlessRevoked(decode(stored, this.model, id), revokedUpTo);
  }

  /**
   * On a cluster the grant (with its revocation mark) is in a slot of its own: read after the
   * token, and kept for oidc-provider's read of it that follows. The session is read when asked.
   */
  async #findInCluster(key: string, id: string): Promise<AdapterPayload | undefined> {
    const payload = decode(await withWritesInFlight(this.#redis.get(key)), this.model, id);
    const grantId = payload?.grantId;
    if (!grantId) return payload;
    const [grant = null, revokedUpTo = null] = await this.#redis.mget(
      this.#key(grantId, 'Grant'),
      this.#revocationMarkKey(grantId),
    );
    keepPrefetched(this.#key(grantId, 'Grant'), decode(grant, 'Grant', grantId) ?? null);
    return unlessRevoked(payload, revokedUpTo);
  }

  /**
   * The client credentials token's key under the same id, when this request is about to look the
   * value up as both (an access token read at introspection or revocation): read in the same script.
   */
  #lookedUpWith(id: string): string | undefined {
    if (this.model !== 'AccessToken') return undefined;
    const route = (Provider.ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route;
    return route && TOKEN_LOOKUP_ROUTES.has(route) ? this.#key(id, 'ClientCredentials') : undefined;
  }

  async #findByPointer(kind: 'uid' | 'userCode', value: string): Promise<AdapterPayload | undefined> {
    sendHeldWrites();
    const pointer = this.#pointerKey(kind, value);
    const prefetched = takePrefetched(pointer);
    if (prefetched !== undefined) return (await prefetched) ?? undefined;
    if (!this.#cluster) {
      const [id, stored = null] =
        (await withWritesInFlight(this.#redis.monbanFindByPointer(pointer, this.#keyStart()))) ?? [];
      return id ? decode(stored, this.model, id) : undefined;
    }
    // The pointer and the model live in different slots: two reads.
    const id = await withWritesInFlight(this.#redis.get(pointer));
    return id ? this.find(id) : undefined;
  }

  findByUid(uid: string): Promise<AdapterPayload | undefined> {
    return this.#findByPointer('uid', uid);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#findByPointer('userCode', userCode);
  }

  async consume(id: string): Promise<void> {
    const mode = DELETED_ONCE_CONSUMED.has(this.model) ? 'delete' : 'mark';
    const now = String(Math.floor(Date.now() / 1000));
    const kept = KEPT_ONCE_CONSUMED[this.model] ?? [];
    const key = this.#key(id);
    const args = [now, mode, ...kept];
    if (PIPELINED_CONSUMES.has(this.model) && !this.#cluster) {
      // On one server: held back for the saves that follow (held-writes.ts). On a cluster: sent,
      // and waited for by the request's next adapter call (pipelined-writes.ts).
      const alone = () => this.#redis.monbanConsume(key, ...args).then((result) => (result === 1 ? 0 : 1));
      const held = holdConsume({ op: 'consume', model: this.model, keys: [key], args, alone }, this.#sendBatch);
      if (held && leaveInFlight(this.model, 'consume', held)) return;
    }
    sendHeldWrites();
    const consumed = this.#redis.monbanConsume(key, ...args).then((result) => {
      if (result !== 1) throw alreadyConsumed(this.model);
    });
    if (PIPELINED_CONSUMES.has(this.model) && leaveInFlight(this.model, 'consume', consumed)) return;
    await consumed;
  }

  async destroy(id: string): Promise<void> {
    const key = this.#key(id);
    this.#dropPrefetched(key);
    // A grant's revocation mark goes with it (the same slot).
    const keys = this.model === 'Grant' ? [key, this.#revocationMarkKey(id)] : [key];
    const deleteAlone = () => this.#redis.unlink(...keys).then(() => 0);
    const held = this.#cluster
      ? undefined
      : holdWrite({ op: 'delete', model: this.model, keys, args: [], alone: deleteAlone }, this.#sendBatch);
    if (held && !held.afterConsume && leaveInFlight(this.model, 'delete', held.answered)) return;
    sendHeldWrites();
    await withWritesInFlight<unknown>(held ? held.answered : deleteAlone());
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    sendHeldWrites();
    dropPrefetched(this.#key(grantId, 'Grant'));
    const indexKey = this.#grantIndexKey(grantId);
    const legacyKey = this.#legacyGrantIndexKey(grantId);
    const [members, legacyMembers] = await withWritesInFlight(
      this.#redis.monbanRevoke(
        this.#key(grantId, 'Grant'),
        this.#revocationMarkKey(grantId),
        indexKey,
        legacyKey,
        String(Math.floor(Date.now() / 1000)),
      ),
    );
    const code = `${indexCode(this.model)}:`;
    const mine = members.filter((member) => member.startsWith(code));
    const legacyMine = legacyMembers.filter((key) => key.startsWith(`${this.prefix}oidc:${this.model}:`));
    const keys = [...mine.map((member) => this.#key(member.slice(code.length))), ...legacyMine];
    if (keys.length === 0) return;
    // The keys live in slots of their own: one UNLINK each (in parallel), not one cross-slot command.
    await Promise.all([
      ...keys.map((key) => this.#redis.unlink(key)),
      ...(mine.length > 0 ? [this.#redis.hdel(indexKey, ...mine)] : []),
      ...(legacyMine.length > 0 ? [this.#redis.srem(legacyKey, ...legacyMine)] : []),
    ]);
  }
}
