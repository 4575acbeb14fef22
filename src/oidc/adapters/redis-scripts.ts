import type { RedisClient } from '../../redis/client.js';
import { addScripts, LuaScript } from '../../redis/lua-script.js';
import { GIVE_BACK_FUNCTION } from '../../security/rate-limit/attempt-counters.js';

/*
 * The Redis adapter's Lua scripts (redis-adapter.ts says when each is used). A model's key comes
 * with the name releases before gave it (redis-keys.ts): a script reads the new name first and
 * the old one where the new is not found, and a save or a delete takes the old one along. Both
 * names share a hash tag, so a script that declares both stays in one Redis Cluster slot. A
 * script marked no-cluster also reads keys it does not declare (a token's grant and session),
 * which only one Redis server allows.
 */

// Saves a payload; a re-save never un-consumes. KEYS[1]: the model, KEYS[2]: its old name
// (deleted). ARGV: payload, seconds to live (0: none), consumed epoch ('' if not). On one server
// only, the same script may also write what goes with the model: when ARGV[4] is there and not
// '', KEYS[3] is the grant's index, which gets ARGV[4] (as INDEX does); every further key is a
// pointer set to ARGV[5], the model's id.
const UPSERT_FUNCTION = `
local function upsert(KEYS, ARGV)
  local mark = ARGV[3]
  local old = redis.call('GET', KEYS[1]) or redis.call('GET', KEYS[2])
  if old and string.byte(old, 1) ~= 123 then mark = string.match(old, '^(%d+)|') or mark end
  local value = ARGV[1]
  if mark ~= '' then value = mark .. '|' .. value end
  local ttl = ARGV[2]
  if ttl ~= '0' then redis.call('SET', KEYS[1], value, 'EX', ttl) else redis.call('SET', KEYS[1], value) end
  redis.call('UNLINK', KEYS[2])
  local first = 3
  if (ARGV[4] or '') ~= '' then
    redis.call('HSET', KEYS[3], ARGV[4], '')
    if ttl ~= '0' then
      redis.call('EXPIRE', KEYS[3], ttl, 'NX')
      redis.call('EXPIRE', KEYS[3], ttl, 'GT')
    end
    first = 4
  end
  for i = first, #KEYS do
    if ttl ~= '0' then redis.call('SET', KEYS[i], ARGV[5], 'EX', ttl) else redis.call('SET', KEYS[i], ARGV[5]) end
  end
  return 1
end
`;
const UPSERT = `${UPSERT_FUNCTION}return upsert(KEYS, ARGV)`;

// Reads a key (KEYS[1]), or its old name (KEYS[2]) where it is not found.
const FIND = `#!lua flags=no-writes
return redis.call('GET', KEYS[1]) or redis.call('GET', KEYS[2])
`;

// One server only (hence the flags; a cluster refuses it): reads a pointer (KEYS[1], or its old
// name KEYS[2]) and then the model it names, whose key is ARGV[1] .. id .. '}' (or ARGV[2] .. id
// .. '}'; not declared: it is only known once the pointer is read). Returns false, or {id, the
// stored model or false}.
const FIND_BY_POINTER = `#!lua flags=no-writes,no-cluster
local id = redis.call('GET', KEYS[1]) or redis.call('GET', KEYS[2])
if not id then return false end
return {id, redis.call('GET', ARGV[1] .. id .. '}') or redis.call('GET', ARGV[2] .. id .. '}')}
`;

// One server only, like FIND_BY_POINTER: reads a token (KEYS[1], or its old name KEYS[2]), the
// grant its payload names (ARGV[1] or ARGV[2], then grantId .. '}') and that grant's revocation
// mark (ARGV[7] .. grantId .. '}'), and for a token that expires with its session, that session
// by its uid: the pointer (ARGV[3] or ARGV[4]), then the session (ARGV[5] or ARGV[6]). When
// ARGV[8] is there and not '', it is a key read as well (ARGV[9] its old name), found or not:
// another model under the same id. Returns false when neither token nor ARGV[8] is found, else
// {token or false, grantId or false, grant or false, sessionUid or false, session id or false,
// session or false, ARGV[8]'s value or false, mark or false}.
// The grant id and the session uid (as s, which says the token expires with it) open the JSON
// (stored-payload.ts), after a consumed mark if any; the release before wrote the uid as S and the
// flag as W. A value written before that has them by their full names anywhere in it: JSON
// escapes quotes inside strings, so '"grantId":"' is a key; should a nested object have one too,
// what is kept under that id is simply never asked for.
const FIND_WITH_GRANT = `#!lua flags=no-writes,no-cluster
local function either(start, oldStart, id)
  return redis.call('GET', start .. id .. '}') or redis.call('GET', oldStart .. id .. '}')
end
local value = redis.call('GET', KEYS[1]) or redis.call('GET', KEYS[2])
local sibling = (ARGV[8] or '') ~= '' and (redis.call('GET', ARGV[8]) or redis.call('GET', ARGV[9]))
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
local grant = grantId and either(ARGV[1], ARGV[2], grantId)
local revokedUpTo = grantId and redis.call('GET', ARGV[7] .. grantId .. '}')
local sessionId = sessionUid and either(ARGV[3], ARGV[4], sessionUid)
local session = sessionId and either(ARGV[5], ARGV[6], sessionId)
return {value, grantId, grant, sessionUid, sessionId, session, sibling, revokedUpTo}
`;

// Marks a model consumed only if it exists and is not consumed yet, in one step: KEYS[1], or its
// old name KEYS[2] where it is not found (consumed in place). ARGV[1]: the epoch; ARGV[2]: 'mark'
// (keep it, marked) or 'delete' (what is used once and then only needs to be gone); ARGV[3..]:
// when marking, the only fields worth keeping, in the order they are then written (none named:
// all of them, as they were).
// Returns 1 when this call consumed it, 0 when it was consumed already, -1 when it is gone.
const CONSUME_FUNCTION = `
local function consume(KEYS, ARGV)
  local key = KEYS[1]
  local value = redis.call('GET', key)
  if not value then
    key = KEYS[2]
    value = redis.call('GET', key)
  end
  if not value then return -1 end
  if string.byte(value, 1) ~= 123 then return 0 end
  if ARGV[2] == 'delete' then
    redis.call('DEL', key)
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
  redis.call('SET', key, ARGV[1] .. '|' .. value, 'KEEPTTL')
  return 1
end
`;
const CONSUME = `${CONSUME_FUNCTION}return consume(KEYS, ARGV)`;

// One server only: a request's held writes (held-writes.ts) in one step. KEYS: every write's
// keys in turn. ARGV[1]: how many writes; then for each, 'consume', 'save', 'delete' or
// 'giveBack', its number of keys and of arguments, and the arguments, as CONSUME, UPSERT and the
// attempt counters' give-back take them (a delete takes none). A consume that finds its model
// consumed or gone ends the script: returns its position (1-based), else 0.
const BATCH = `#!lua flags=no-cluster
${CONSUME_FUNCTION}${UPSERT_FUNCTION}${GIVE_BACK_FUNCTION}
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
  elseif op == 'giveBack' then
    giveBack(keys, args)
  else
    upsert(keys, args)
  end
end
return 0
`;

// Revokes a grant's tokens: KEYS[1] the grant (KEYS[2] its old name), KEYS[3] its revocation
// mark, KEYS[4] its index (KEYS[5] the index's old name), KEYS[6] the set that indexed it before
// the hash did; ARGV[1] now (epoch seconds). While the grant exists, the mark says now (or a
// later time it already said) and lives as long as the grant. Returns the members of the index,
// of its old name and of the old set.
const REVOKE = `
local grant = KEYS[1]
if redis.call('EXISTS', grant) == 0 then grant = KEYS[2] end
if redis.call('EXISTS', grant) == 1 then
  local mark = math.max(tonumber(redis.call('GET', KEYS[3]) or '0'), tonumber(ARGV[1]))
  local ttl = redis.call('PTTL', grant)
  if ttl > 0 then redis.call('SET', KEYS[3], mark, 'PX', ttl) else redis.call('SET', KEYS[3], mark) end
end
return {redis.call('HKEYS', KEYS[4]), redis.call('HKEYS', KEYS[5]), redis.call('SMEMBERS', KEYS[6])}
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

export interface AdapterScripts {
  monbanSave(...args: string[]): Promise<unknown>;
  monbanFind(key: string, oldKey: string): Promise<string | null>;
  monbanFindByPointer(
    pointer: string,
    oldPointer: string,
    modelStart: string,
    oldModelStart: string,
  ): Promise<[string, string | null] | null>;
  monbanFindWithGrant(key: string, oldKey: string, ...starts: string[]): Promise<(string | null)[] | null>;
  monbanConsume(key: string, oldKey: string, ...nowModeKept: string[]): Promise<number>;
  monbanIndex(key: string, member: string, ttl: string): Promise<unknown>;
  monbanRevoke(...keysThenNow: string[]): Promise<[string[], string[], string[]]>;
  monbanBatch(...args: string[]): Promise<number>;
}

const SCRIPTS: Record<keyof AdapterScripts, LuaScript> = {
  monbanSave: new LuaScript(UPSERT),
  monbanFind: new LuaScript(FIND, 2),
  monbanFindByPointer: new LuaScript(FIND_BY_POINTER, 2),
  monbanFindWithGrant: new LuaScript(FIND_WITH_GRANT, 2),
  monbanConsume: new LuaScript(CONSUME, 2),
  monbanIndex: new LuaScript(INDEX, 1),
  monbanRevoke: new LuaScript(REVOKE, 6),
  monbanBatch: new LuaScript(BATCH),
};

/** The client with the adapter's scripts as methods: EVALSHA, and the script itself only when Redis does not know it. */
export function withScripts(redis: RedisClient): RedisClient & AdapterScripts {
  return addScripts<AdapterScripts>(redis, SCRIPTS);
}
