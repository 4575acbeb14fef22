import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import { payloadContext } from '../courier/outbox.js';
import { sealContext } from '../identity/factors/totp.js';
import { secretContext } from '../oidc/clients/repository.js';
import { serverKeyContext } from '../oidc/keys.js';
import type { KeyUse } from '../db/schema.js';
import { derivedKeyContext } from '../security/derived-keys.js';
import type { SecretBox } from '../security/secret-box.js';
import { idempotencyContext } from './api/idempotency.js';

interface Row {
  row_id: string;
  sealed: string;
  [column: string]: string;
}

/** A column of sealed values: how to name a row, read its value and bind it (its sealing context). */
interface SealedStore {
  name: string;
  table: string;
  /** A text expression naming the row, in a stable order (keyset paging). */
  id: string;
  /** A text expression reading the sealed value. */
  value: string;
  /** The columns the context needs. */
  columns: string[];
  context(row: Row): string;
  /** The SQL that sets the resealed value ($new). */
  assign(resealed: string): ReturnType<typeof sql>;
}

const column = (name: string) => (resealed: string) => sql`${sql.ref(name)} = ${resealed}`;

/** Every sealed value Monban stores in PostgreSQL (Redis holds none). */
const STORES: SealedStore[] = [
  {
    name: 'derived keys',
    table: 'derived_keys',
    id: `secret_id || ' ' || purpose`,
    value: 'material_sealed',
    columns: ['secret_id', 'purpose'],
    context: (row) => derivedKeyContext(String(row.secret_id), String(row.purpose)),
    assign: column('material_sealed'),
  },
  {
    name: 'server keys',
    table: 'server_keys',
    id: 'kid',
    value: 'material_sealed',
    columns: ['kid', 'use'],
    context: (row) => serverKeyContext(String(row.use) as KeyUse, String(row.kid)),
    assign: column('material_sealed'),
  },
  {
    name: 'client secrets',
    table: 'oidc_clients',
    id: 'client_id',
    value: 'client_secret_sealed',
    columns: ['client_id'],
    context: (row) => secretContext(String(row.client_id)),
    assign: column('client_secret_sealed'),
  },
  {
    name: 'authenticator app secrets',
    table: 'mfa_factors',
    id: 'id::text',
    value: 'secret_sealed',
    columns: ['account_id'],
    context: (row) => sealContext(String(row.account_id)),
    assign: column('secret_sealed'),
  },
  {
    name: 'queued messages',
    table: 'outbox',
    id: `lpad(id::text, 20, '0')`,
    value: 'payload_sealed',
    columns: ['recipient'],
    context: (row) => payloadContext(String(row.recipient)),
    assign: column('payload_sealed'),
  },
  {
    name: 'admin API replies',
    table: 'admin_idempotency',
    id: `client_id || ' ' || key`,
    value: `body->>'sealed'`,
    columns: ['client_id', 'key'],
    context: (row) => idempotencyContext(String(row.client_id), String(row.key)),
    assign: (resealed) => sql`body = jsonb_build_object('sealed', ${resealed}::text)`,
  },
];

const BATCH = 200;

export interface StoreResult {
  /** Values that were sealed with an older secret when the command started. */
  found: number;
  resealed: number;
  /** Values no listed secret opens (sealed with a secret no longer listed, or damaged). */
  failed: number;
}

export interface ResealReport {
  sealedWith: string;
  stores: Record<string, StoreResult>;
  /** The listed secrets nothing stored needs any more: they may leave MONBAN_SECRET. */
  removable: string[];
}

/**
 * Reseals every sealed value under the current secret (`npm run admin -- secrets reseal`). Row by
 * row, each update only if the value did not change meanwhile (a running server may write it),
 * in small batches, so it can run beside live servers, be stopped at any point and run again:
 * only values sealed with another secret are read, so a second run finds nothing to do.
 */
export async function resealAll(
  deps: { db: Db; box: SecretBox; listedSecretIds: string[] },
  progress: (line: string) => void = () => undefined,
): Promise<ResealReport> {
  const { db, box } = deps;
  const current = `v2.${box.currentKeyId}.`;
  const stores: Record<string, StoreResult> = {};
  for (const store of STORES) {
    const table = sql.table(store.table);
    const value = sql.raw(store.value);
    const id = sql.raw(store.id);
    const { rows: counted } = await sql<{ n: string }>`
      select count(*) as n from ${table} where ${value} is not null and not starts_with(${value}, ${current})
    `.execute(db);
    const result: StoreResult = { found: Number(counted[0]?.n ?? 0), resealed: 0, failed: 0 };
    stores[store.name] = result;
    let after = '';
    for (;;) {
      const { rows } = await sql<Row>`
        select ${id} as row_id, ${value} as sealed, ${sql.join(store.columns.map((c) => sql.ref(c)))}
        from ${table}
        where ${value} is not null and not starts_with(${value}, ${current}) and ${id} > ${after}
        order by ${id} limit ${BATCH}
      `.execute(db);
      if (rows.length === 0) break;
      for (const row of rows) {
        let resealed: string;
        try {
          resealed = box.reseal(row.sealed, store.context(row));
        } catch {
          result.failed += 1;
          continue;
        }
        const updated = await sql`
          update ${table} set ${store.assign(resealed)} where ${id} = ${row.row_id} and ${value} = ${row.sealed}
        `.execute(db);
        // Not updated: a server rewrote (so resealed) or deleted it meanwhile.
        if (Number(updated.numAffectedRows ?? 0) > 0) result.resealed += 1;
      }
      after = rows.at(-1)?.row_id ?? after;
      progress(`${store.name}: ${result.resealed + result.failed}/${result.found}`);
    }
    progress(`${store.name}: done, ${result.resealed} resealed, ${result.failed} failed`);
  }
  const failed = Object.values(stores).some((s) => s.failed > 0);
  return {
    sealedWith: box.currentKeyId,
    stores,
    removable: failed ? [] : deps.listedSecretIds.filter((listed) => listed !== box.currentKeyId),
  };
}
