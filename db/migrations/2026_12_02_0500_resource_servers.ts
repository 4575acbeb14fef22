import { sql, type Kysely } from 'kysely';

// Issue 19: APIs registered as resource servers (RFC 8707 resource indicators). A client asks
// for a token with `resource=<identifier>`; the token is a JWT (RFC 9068) or opaque, lives
// `access_token_seconds`, and carries only the resource's scopes. `client_id` is the resource
// server's own client, with which it may introspect the tokens issued for it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('resource_servers')
    .addColumn('identifier', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('scopes', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .addColumn('access_token_format', 'text', (c) => c.notNull().check(sql`access_token_format in ('jwt', 'opaque')`))
    .addColumn('access_token_seconds', 'integer', (c) => c.notNull())
    .addColumn('client_id', 'text', (c) =>
      c.notNull().unique().references('oidc_clients.client_id').onDelete('cascade'),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('resource_servers').execute();
}
