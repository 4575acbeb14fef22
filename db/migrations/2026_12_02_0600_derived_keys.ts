import { sql, type Kysely } from 'kysely';

// MONBAN_SECRET rotation (issue 18): keys derived from a secret that stored data still needs once
// that secret has left MONBAN_SECRET (password peppers, code and recovery-code HMAC keys, device
// cookie tags), and the keys that must never change (certification hash, passkey user handle),
// each sealed with a listed secret and resealed by `admin secrets reseal`.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('derived_keys')
    // The id of the secret the key was derived from, or 'pinned' for the keys that never rotate.
    .addColumn('secret_id', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('material_sealed', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('derived_keys_pkey', ['secret_id', 'purpose'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('derived_keys').ifExists().execute();
}
