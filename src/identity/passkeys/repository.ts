import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { WebauthnCredentialRow } from '../../db/schema.js';
import { isUuid } from '../../db/uuid.js';

export type PasskeyRow = WebauthnCredentialRow;

export interface NewPasskey {
  accountId: string;
  credentialId: string;
  publicKey: Uint8Array;
  counter: number;
  transports: string[];
  aaguid: string;
  name: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
}

/** Stores a credential; undefined when its ID is registered already (to any account). */
export async function insertPasskey(db: Db, passkey: NewPasskey): Promise<PasskeyRow | undefined> {
  return db
    .insertInto('webauthn_credentials')
    .values({
      account_id: passkey.accountId,
      credential_id: passkey.credentialId,
      public_key: passkey.publicKey,
      counter: passkey.counter,
      transports: JSON.stringify(passkey.transports),
      aaguid: passkey.aaguid,
      name: passkey.name,
      device_type: passkey.deviceType,
      backed_up: passkey.backedUp,
    })
    .onConflict((oc) => oc.column('credential_id').doNothing())
    .returningAll()
    .executeTakeFirst();
}

/** The account's passkeys, oldest first. */
export async function listPasskeys(db: Db, accountId: string): Promise<PasskeyRow[]> {
  return db
    .selectFrom('webauthn_credentials')
    .selectAll()
    .where('account_id', '=', accountId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

export async function findPasskeyByCredentialId(db: Db, credentialId: string): Promise<PasskeyRow | undefined> {
  return db.selectFrom('webauthn_credentials').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
}

export async function findPasskey(db: Db, accountId: string, id: string): Promise<PasskeyRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db
    .selectFrom('webauthn_credentials')
    .selectAll()
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function renamePasskey(db: Db, accountId: string, id: string, name: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const result = await db
    .updateTable('webauthn_credentials')
    .set({ name })
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function deletePasskey(db: Db, accountId: string, id: string): Promise<PasskeyRow | undefined> {
  if (!isUuid(id)) return undefined;
  return db
    .deleteFrom('webauthn_credentials')
    .where('account_id', '=', accountId)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Records a use: the new signature counter, the backup state and the time. Atomic against a
 * parallel use with the same or a lower counter: the row moves only forward (WebAuthn L3 6.1.1;
 * a counter of 0 means the authenticator keeps none). False when the counter went backwards.
 */
export async function recordPasskeyUse(
  db: Db,
  passkey: PasskeyRow,
  use: { counter: number; backedUp: boolean },
): Promise<boolean> {
  const result = await db
    .updateTable('webauthn_credentials')
    .set({ counter: use.counter, backed_up: use.backedUp, last_used_at: new Date() })
    .where('id', '=', passkey.id)
    .where((eb) =>
      eb.or([
        eb.and([eb('counter', '=', sql<string>`0`), eb(sql.lit(use.counter), '=', 0)]),
        eb('counter', '<', sql<string>`${use.counter}::bigint`),
      ]),
    )
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function countPasskeys(db: Db, accountId: string): Promise<number> {
  const row = await db
    .selectFrom('webauthn_credentials')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('account_id', '=', accountId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
