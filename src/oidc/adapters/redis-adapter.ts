import Provider, { type Adapter, type AdapterPayload } from 'oidc-provider';
import type { RedisClient } from '../../redis/client.js';
import type { HoldGiveBack } from '../../security/rate-limit/attempt-counters.js';
import { alreadyConsumed } from './errors.js';
import { holdConsume, holdWrite, sendHeldWrites, type HeldWrite, type SendBatch } from './held-writes.js';
import { leaveInFlight, withWritesInFlight } from './pipelined-writes.js';
import { dropPrefetched, dropPrefetchedUnder, keepPrefetched, takePrefetched } from './prefetched-models.js';
import { modelCode, RedisKeys, type KeyNames, type PointerKind } from './redis-keys.js';
import { withScripts, type AdapterScripts } from './redis-scripts.js';
import { decodePayload as decode, encodePayload as encode, storedName } from './stored-payload.js';

/*
 * Each model is one string key, named as redis-keys.ts says (a key an earlier release named is
 * still read), holding its JSON payload, prefixed with `<epoch>|` once it is consumed, written as
 * stored-payload.ts says: without the `kind` and `jti` that the key names, and with short names
 * for the longest fields (a payload written before is read as it is). The Lua scripts are in
 * redis-scripts.ts.
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

/** Models a find takes from what an earlier read or held save in the request brought (prefetched-models.ts). */
const PREFETCHABLE = new Set(['Grant', 'ClientCredentials', 'Interaction']);

/**
 * Models whose save, held on a page, the request's next find of them is answered with. A login
 * step saves the interaction's result and, in the same request, oidc-provider's resume reads it
 * back (src/interactions/resume-here.ts): answered here, that read costs no round trip, and no
 * read can overtake the held save (a script's NOSCRIPT retry goes out after what followed it).
 */
const KEPT_WHEN_HELD = new Set(['Interaction']);

/**
 * Consumed at the token endpoint, where oidc-provider then always saves the tokens it issues: the
 * consume's answer is waited for by that save (pipelined-writes.ts).
 */
const PIPELINED_CONSUMES = new Set(['AuthorizationCode', 'RefreshToken']);

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

/**
 * Models saved with one plain SET: never consumed (no mark to keep), and saved once or living
 * minutes, so a copy under the name an earlier release gave it is left to run out rather than
 * deleted (a find reads the new name first). Grants and sessions, saved again and again, go
 * through the script, which deletes that copy.
 */
const PLAIN_SET = new Set(['AccessToken', 'ClientCredentials', 'Interaction', 'ReplayDetection']);

/** Now, as the scripts take it: epoch seconds. */
const epochNow = (): string => String(Math.floor(Date.now() / 1000));

/**
 * A token issued up to its grant's revocation mark (epoch seconds) is revoked. Within the mark's
 * own second the order is unknown: such a token counts as revoked.
 */
function unlessRevoked(payload: AdapterPayload | undefined, revokedUpTo: string | null): AdapterPayload | undefined {
  if (!payload || revokedUpTo === null) return payload;
  return typeof payload.iat === 'number' && payload.iat > Number(revokedUpTo) ? payload : undefined;
}

/** Sends a request's held writes as one BATCH script (held-writes.ts); a write alone as its own command. */
function batchSender(redis: AdapterScripts): SendBatch {
  return (writes) => {
    const [only] = writes;
    if (only && writes.length === 1) return only.alone();
    return redis.monbanBatch(
      String(writes.reduce((sum, write) => sum + write.keys.length, 0)),
      ...writes.flatMap((write) => write.keys),
      String(writes.length),
      ...writes.flatMap((write) => [write.op, String(write.keys.length), String(write.args.length), ...write.args]),
    );
  };
}

/**
 * A right password's give-back of its attempt counters (attempt-counters.ts), on a page: held
 * with the page's writes (the login's interaction, and at a resume its session, grant and code)
 * and sent in their script when the answer is ready, instead of a command of its own. The
 * counters ask only on one Redis server, the one the adapter writes to.
 */
export function holdGiveBackOn(redis: RedisClient): HoldGiveBack {
  const sendBatch = batchSender(withScripts(redis));
  return (keys, args, alone) => {
    const write: HeldWrite = {
      op: 'giveBack',
      model: 'AttemptCounters',
      keys,
      args,
      alone: () => alone().then(() => 0),
    };
    const held = holdWrite(write, sendBatch);
    return held !== undefined && leaveInFlight(write.model, 'save', held.answered);
  };
}

/** oidc-provider models in Redis (or a Redis Cluster), with pointers by interaction uid and device user code. */
export class RedisAdapter implements Adapter {
  readonly #redis: RedisClient & AdapterScripts;
  readonly #sendBatch: SendBatch;
  /** A Redis Cluster: each command and script within one slot. */
  readonly #cluster: boolean;
  readonly #keys: RedisKeys;

  constructor(
    redis: RedisClient,
    private readonly model: string,
    prefix: string,
  ) {
    this.#redis = withScripts(redis);
    this.#sendBatch = batchSender(this.#redis);
    this.#cluster = redis.isCluster;
    this.#keys = new RedisKeys(prefix);
  }

  /** A model's key and its old name: this adapter's model unless another is named (a token's grant). */
  #names(id: string, model = this.model): KeyNames {
    return this.#keys.model(model, id);
  }

  #pointer(kind: PointerKind, value: string, model = this.model): KeyNames {
    return this.#keys.pointer(model, kind, value);
  }

  /** A model or a session written in this request is read from Redis again (prefetched-models.ts). */
  #dropPrefetched(key: string): void {
    if (PREFETCHABLE.has(this.model)) dropPrefetched(key);
    if (this.model === 'Session') dropPrefetchedUnder(this.#keys.pointerStarts('Session', 'uid')[0]);
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
    const { key, oldKey } = this.#names(id);
    this.#dropPrefetched(key);
    const ttl = String(expiresIn ?? 0);
    const consumed = payload.consumed as unknown;
    const json = encode(payload, this.model, id);
    const save = [json, ttl, typeof consumed === 'number' || typeof consumed === 'string' ? String(consumed) : ''];
    const index = payload.grantId && INDEXED.has(this.model) ? this.#keys.grantIndex(payload.grantId).key : undefined;
    const member = index ? `${modelCode(this.model)}:${id}` : '';
    // A pointer's old name is left to run out: the new one is read first.
    const pointers: string[] = [];
    if (payload.uid) pointers.push(this.#pointer('uid', payload.uid).key);
    if (payload.userCode) pointers.push(this.#pointer('userCode', payload.userCode).key);
    const keys = [key, oldKey, ...(index ? [index] : []), ...pointers];
    const args = [...save, member, id];
    if (!this.#cluster) {
      // A plain SET where there is no consumed mark to keep, else one script for the model, its
      // grant's index and its pointers.
      const saveAlone =
        !index && pointers.length === 0 && PLAIN_SET.has(this.model)
          ? () => (expiresIn ? this.#redis.set(key, json, 'EX', expiresIn) : this.#redis.set(key, json))
          : () => this.#redis.monbanSave(String(keys.length), ...keys, ...args);
      const write: HeldWrite = { op: 'save', model: this.model, keys, args, alone: () => saveAlone().then(() => 0) };
      const held = holdWrite(write, this.#sendBatch);
      if (held && KEPT_WHEN_HELD.has(this.model)) keepPrefetched(key, () => decode(json, this.model, id) ?? null);
      // After a consume only the refresh token that replaces the one consumed is left in flight:
      // the access token's save sends the batch, so a lost race reaches oidc-provider as
      // invalid_grant.
      const waits = held?.afterConsume === true && this.model !== 'RefreshToken';
      if (held && !waits && leaveInFlight(this.model, 'save', held.answered)) return;
      sendHeldWrites();
      await withWritesInFlight<unknown>(held ? held.answered : saveAlone());
      return;
    }
    const writes: Promise<unknown>[] = [this.#redis.monbanSave('2', key, oldKey, ...save)];
    if (index) writes.push(this.#redis.monbanIndex(index, member, ttl));
    for (const pointer of pointers) {
      writes.push(expiresIn ? this.#redis.set(pointer, id, 'EX', expiresIn) : this.#redis.set(pointer, id));
    }
    await withWritesInFlight(Promise.all(writes));
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    const { key, oldKey } = this.#names(id);
    // What the request already knows is current (a write drops it) needs no held write sent.
    const prefetched = PREFETCHABLE.has(this.model) ? takePrefetched(key) : undefined;
    if (prefetched !== undefined) return (await prefetched) ?? undefined;
    sendHeldWrites();
    if (!READ_WITH_GRANT.has(this.model))
      return decode(await withWritesInFlight(this.#redis.monbanFind(key, oldKey)), this.model, id);
    if (this.#cluster) return this.#findInCluster(key, oldKey, id);
    const sibling = this.#lookedUpWith(id);
    const read = this.#redis.monbanFindWithGrant(
      key,
      oldKey,
      ...this.#keys.modelStarts('Grant'),
      ...this.#keys.pointerStarts('Session', 'uid'),
      ...this.#keys.modelStarts('Session'),
      this.#keys.revocationMarkStart(),
      sibling?.key ?? '',
      sibling?.oldKey ?? '',
    );
    if (sibling) {
      const siblingRead = read.then((found) => decode(found?.[6] ?? null, 'ClientCredentials', id) ?? null);
      siblingRead.catch(() => undefined); // its own find sees the failure; unasked, it is not unhandled
      keepPrefetched(sibling.key, siblingRead);
    }
    const [stored = null, grantId, grant = null, sessionUid, sessionId, session = null, , revokedUpTo = null] =
      (await withWritesInFlight(read)) ?? [];
    if (grantId) keepPrefetched(this.#names(grantId, 'Grant').key, decode(grant, 'Grant', grantId) ?? null);
    if (sessionUid)
      keepPrefetched(
        this.#pointer('uid', sessionUid, 'Session').key,
        sessionId ? (decode(session, 'Session', sessionId) ?? null) : null,
      );
    return unlessRevoked(decode(stored, this.model, id), revokedUpTo);
  }

  /**
   * On a cluster the grant (with its revocation mark) is in a slot of its own: read after the
   * token, and kept for oidc-provider's read of it that follows. The session is read when asked.
   */
  async #findInCluster(key: string, oldKey: string, id: string): Promise<AdapterPayload | undefined> {
    const payload = decode(await withWritesInFlight(this.#redis.monbanFind(key, oldKey)), this.model, id);
    const grantId = payload?.grantId;
    if (!grantId) return payload;
    const grantNames = this.#names(grantId, 'Grant');
    const [grant = null, oldGrant = null, revokedUpTo = null] = await this.#redis.mget(
      grantNames.key,
      grantNames.oldKey,
      this.#keys.revocationMark(grantId),
    );
    keepPrefetched(grantNames.key, decode(grant ?? oldGrant, 'Grant', grantId) ?? null);
    return unlessRevoked(payload, revokedUpTo);
  }

  /**
   * The client credentials token under the same id, when this request is about to look the value
   * up as both (an access token read at introspection or revocation): read in the same script.
   */
  #lookedUpWith(id: string): KeyNames | undefined {
    if (this.model !== 'AccessToken') return undefined;
    const route = (Provider.ctx as { oidc?: { route?: string } } | undefined)?.oidc?.route;
    return route && TOKEN_LOOKUP_ROUTES.has(route) ? this.#names(id, 'ClientCredentials') : undefined;
  }

  async #findByPointer(kind: PointerKind, value: string): Promise<AdapterPayload | undefined> {
    sendHeldWrites();
    const pointer = this.#pointer(kind, value);
    const prefetched = takePrefetched(pointer.key);
    if (prefetched !== undefined) return (await prefetched) ?? undefined;
    if (!this.#cluster) {
      const [id, stored = null] =
        (await withWritesInFlight(
          this.#redis.monbanFindByPointer(pointer.key, pointer.oldKey, ...this.#keys.modelStarts(this.model)),
        )) ?? [];
      return id ? decode(stored, this.model, id) : undefined;
    }
    // The pointer and the model live in different slots: two reads.
    const id = await withWritesInFlight(this.#redis.monbanFind(pointer.key, pointer.oldKey));
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
    const kept = KEPT_ONCE_CONSUMED[this.model] ?? [];
    const { key, oldKey } = this.#names(id);
    const args = [epochNow(), mode, ...kept];
    if (PIPELINED_CONSUMES.has(this.model) && !this.#cluster) {
      // On one server: held back for the saves that follow (held-writes.ts). On a cluster: sent,
      // and waited for by the request's next adapter call (pipelined-writes.ts).
      const alone = () => this.#redis.monbanConsume(key, oldKey, ...args).then((result) => (result === 1 ? 0 : 1));
      const held = holdConsume({ op: 'consume', model: this.model, keys: [key, oldKey], args, alone }, this.#sendBatch);
      if (held && leaveInFlight(this.model, 'consume', held)) return;
    }
    sendHeldWrites();
    const consumed = this.#redis.monbanConsume(key, oldKey, ...args).then((result) => {
      if (result !== 1) throw alreadyConsumed(this.model);
    });
    if (PIPELINED_CONSUMES.has(this.model) && leaveInFlight(this.model, 'consume', consumed)) return;
    await consumed;
  }

  async destroy(id: string): Promise<void> {
    const { key, oldKey } = this.#names(id);
    this.#dropPrefetched(key);
    // A grant's revocation mark goes with it (the same slot, as both names are).
    const keys = this.model === 'Grant' ? [key, oldKey, this.#keys.revocationMark(id)] : [key, oldKey];
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
    const grant = this.#names(grantId, 'Grant');
    const index = this.#keys.grantIndex(grantId);
    const legacySet = this.#keys.legacyGrantSet(grantId);
    const [members, oldMembers, legacyMembers] = await withWritesInFlight(
      this.#redis.monbanRevoke(
        grant.key,
        grant.oldKey,
        this.#keys.revocationMark(grantId),
        index.key,
        index.oldKey,
        legacySet,
        epochNow(),
      ),
    );
    const code = `${modelCode(this.model)}:`;
    const mine = members.filter((member) => member.startsWith(code));
    const oldMine = oldMembers.filter((member) => member.startsWith(code));
    const legacyMine = legacyMembers.filter((key) => key.startsWith(this.#keys.modelStarts(this.model)[1]));
    const tokens = [...mine, ...oldMine].map((member) => this.#names(member.slice(code.length)));
    // The keys live in slots of their own: one UNLINK each (in parallel), not one cross-slot command.
    await Promise.all([
      ...tokens.map(({ key, oldKey }) => this.#redis.unlink(key, oldKey)),
      ...legacyMine.map((key) => this.#redis.unlink(key)),
      ...(mine.length > 0 ? [this.#redis.hdel(index.key, ...mine)] : []),
      ...(oldMine.length > 0 ? [this.#redis.hdel(index.oldKey, ...oldMine)] : []),
      ...(legacyMine.length > 0 ? [this.#redis.srem(legacySet, ...legacyMine)] : []),
    ]);
  }
}
