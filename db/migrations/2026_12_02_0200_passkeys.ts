import { sql, type Kysely } from 'kysely';

// Passkeys and security keys (issue 17): WebAuthn credentials, the upgrade prompt's choice and
// the company policy that asks for a phishing-resistant factor.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('webauthn_credentials')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('account_id', 'uuid', (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    // The credential ID the authenticator chose, base64url (WebAuthn L3 5.1 rawId).
    .addColumn('credential_id', 'text', (c) => c.notNull().unique())
    // COSE_Key of the credential (RFC 9052 7), as the authenticator sent it.
    .addColumn('public_key', 'bytea', (c) => c.notNull())
    // Signature counter (WebAuthn L3 6.1.1); 0 for authenticators that keep none.
    .addColumn('counter', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('transports', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('aaguid', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    // 'singleDevice' (hardware-bound) or 'multiDevice' (synced), from the BE flag.
    .addColumn('device_type', 'text', (c) => c.notNull())
    .addColumn('backed_up', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .execute();
  await db.schema.createIndex('webauthn_credentials_account').on('webauthn_credentials').column('account_id').execute();
  await db.schema
    .alterTable('accounts')
    // "Create a passkey?" after a password login: 'never', or snoozed until a time.
    .addColumn('passkey_prompt_never', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('passkey_prompt_snoozed_until', 'timestamptz')
    // Company policy: only a passkey or security key may complete a login.
    .addColumn('require_phishing_resistant', 'boolean', (c) => c.notNull().defaultTo(false))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('webauthn_credentials').ifExists().execute();
  await db.schema
    .alterTable('accounts')
    .dropColumn('passkey_prompt_never')
    .dropColumn('passkey_prompt_snoozed_until')
    .dropColumn('require_phishing_resistant')
    .execute();
}
