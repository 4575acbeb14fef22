import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { KeyUse } from '../db/schema.js';
import type { SecretBox } from '../security/secret-box.js';

const SIGNING_ALG = 'RS256'; // OIDC Core 15.1: every OP must support RS256.
const RETIRED_KEYS_KEPT_DAYS = 7;

/** What a server key's sealed material is bound to (also what `secrets reseal` opens it with). */
export const serverKeyContext = (use: KeyUse, kid: string) => `server_key:${use}:${kid}`;
const context = serverKeyContext;

async function newSigningKey(box: SecretBox): Promise<{ kid: string; sealed: string }> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { modulusLength: 2048, extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: SIGNING_ALG, use: 'sig' };
  return { kid, sealed: box.seal(JSON.stringify(jwk), context('signing', kid)) };
}

function newCookieKey(box: SecretBox): { kid: string; sealed: string } {
  const kid = randomUUID();
  return { kid, sealed: box.seal(randomBytes(32).toString('base64url'), context('cookie', kid)) };
}

// Serialises key creation across processes that start at the same moment.
async function withKeyLock<T>(db: Db, work: (trx: Db) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('monban:server_keys'))`.execute(trx);
    return work(trx);
  });
}

/**
 * First start: an active signing key, a staged one (published, not yet signing, so the next
 * rotation needs no JWKS refresh by relying parties) and a cookie key. Later starts: nothing.
 */
export async function ensureServerKeys(db: Db, box: SecretBox): Promise<void> {
  await withKeyLock(db, async (trx) => {
    const present = await trx.selectFrom('server_keys').select(['use', 'state']).execute();
    const has = (use: KeyUse, state: string) => present.some((k) => k.use === use && k.state === state);
    const inserts: { kid: string; use: KeyUse; state: 'active' | 'staged'; material_sealed: string }[] = [];
    if (!has('signing', 'active')) {
      const key = await newSigningKey(box);
      inserts.push({ kid: key.kid, use: 'signing', state: 'active', material_sealed: key.sealed });
    }
    if (!has('signing', 'staged')) {
      const key = await newSigningKey(box);
      inserts.push({ kid: key.kid, use: 'signing', state: 'staged', material_sealed: key.sealed });
    }
    if (!has('cookie', 'active')) {
      const key = newCookieKey(box);
      inserts.push({ kid: key.kid, use: 'cookie', state: 'active', material_sealed: key.sealed });
    }
    if (inserts.length > 0) await trx.insertInto('server_keys').values(inserts).execute();
  });
}

const STATE_ORDER = sql<number>`case state when 'active' then 0 when 'staged' then 1 else 2 end`;

async function loadKeys(db: Db, use: KeyUse) {
  return db
    .selectFrom('server_keys')
    .select(['kid', 'material_sealed', 'state'])
    .where('use', '=', use)
    .orderBy(STATE_ORDER)
    .orderBy('created_at', 'desc')
    .execute();
}

/** Private JWKs for oidc-provider: the active key first (it signs), then staged and retired. */
export async function loadSigningJwks(db: Db, box: SecretBox): Promise<{ keys: JWK[] }> {
  const rows = await loadKeys(db, 'signing');
  return { keys: rows.map((row) => JSON.parse(box.openText(row.material_sealed, context('signing', row.kid))) as JWK) };
}

/** Cookie signing keys: the first signs, all verify. */
export async function loadCookieKeys(db: Db, box: SecretBox): Promise<string[]> {
  const rows = await loadKeys(db, 'cookie');
  return rows.map((row) => box.openText(row.material_sealed, context('cookie', row.kid)));
}

/**
 * The id of the listed secret that sealed the server keys made before sealed values named their
 * secret (the secret the install started with), or undefined when there are none.
 */
export async function legacySealingSecretId(db: Db, box: SecretBox): Promise<string | undefined> {
  const row = await db
    .selectFrom('server_keys')
    .select(['kid', 'use', 'material_sealed'])
    .where('material_sealed', 'like', 'v1.%')
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst();
  return row && box.keyIdOf(row.material_sealed, context(row.use, row.kid));
}

export interface RotationResult {
  active: string;
  staged: string;
  retired: string[];
}

/**
 * One rotation step: the staged key starts signing, the active one retires (still published so
 * tokens it signed stay verifiable), and a new key is staged. Sessions are untouched, so nobody
 * is logged out. Processes pick the new order up on their next (rolling) restart.
 */
export async function rotateSigningKeys(
  db: Db,
  box: SecretBox,
  /** Runs in the rotation's transaction (its audit event). */
  alongside?: (trx: Db, result: RotationResult) => Promise<void>,
): Promise<RotationResult> {
  await ensureServerKeys(db, box);
  return withKeyLock(db, async (trx) => {
    await trx
      .updateTable('server_keys')
      .set({ state: 'retired', retired_at: new Date() })
      .where('use', '=', 'signing')
      .where('state', '=', 'active')
      .execute();
    await trx
      .updateTable('server_keys')
      .set({ state: 'active' })
      .where('use', '=', 'signing')
      .where('state', '=', 'staged')
      .execute();
    const staged = await newSigningKey(box);
    await trx
      .insertInto('server_keys')
      .values({ kid: staged.kid, use: 'signing', state: 'staged', material_sealed: staged.sealed })
      .execute();
    await trx
      .deleteFrom('server_keys')
      .where('state', '=', 'retired')
      .where('retired_at', '<', sql<Date>`now() - make_interval(days => ${RETIRED_KEYS_KEPT_DAYS})`)
      .execute();
    const rows = await trx
      .selectFrom('server_keys')
      .select(['kid', 'state'])
      .where('use', '=', 'signing')
      .orderBy('created_at')
      .execute();
    const active = rows.find((r) => r.state === 'active');
    if (!active) throw new Error('rotation left no active signing key');
    const result = {
      active: active.kid,
      staged: staged.kid,
      retired: rows.filter((r) => r.state === 'retired').map((r) => r.kid),
    };
    await alongside?.(trx, result);
    return result;
  });
}
