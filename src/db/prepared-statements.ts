import { createHash } from 'node:crypto';
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import type pg from 'pg';

/**
 * Kysely sends every statement unnamed, so PostgreSQL parses and plans it again each time; the
 * login's account read (a join with four subqueries) spent more time being planned than run.
 * This pool names a statement once the process has sent its text twice, and pg then sends a
 * named statement's Parse only once per connection (the extended protocol's prepared
 * statements, PostgreSQL "PREPARE"), and the server may keep its plan.
 *
 * Left unnamed:
 * - statements without parameters (migrations, BEGIN, several commands in one text: a prepared
 *   statement holds one command);
 * - statements inside a transaction: when a cached plan goes stale (a migration changed a table
 *   under a running process, "cached plan must not change result type"), the failed statement
 *   has already aborted the transaction and cannot be sent again;
 * - past MAX_NAMED texts per process, so that statements built with varying text cannot grow
 *   every connection's statement cache without bound.
 * Outside a transaction, a statement the server no longer knows (26000) or whose plan went stale
 * (0A000) is sent again unnamed, and that text stays unnamed on that connection.
 */
const MAX_NAMED = 500;
/** Texts remembered as sent once; beyond this, new texts are not remembered (nor named). */
const MAX_COUNTED = 5_000;

const TRANSACTION_START = /^\s*(begin|start\s+transaction)\b/i;
const TRANSACTION_END = /^\s*(commit|rollback|end|abort)\b(?!\s+to\b)/i;

interface StatementNames {
  /** The statement name for a text sent before, or undefined while it stays unnamed. */
  nameFor(text: string): string | undefined;
}

function statementNames(): StatementNames {
  const sentOnce = new Set<string>();
  const names = new Map<string, string>();
  return {
    nameFor(text) {
      const known = names.get(text);
      if (known) return known;
      if (!sentOnce.has(text)) {
        if (sentOnce.size < MAX_COUNTED) sentOnce.add(text);
        return undefined;
      }
      if (names.size >= MAX_NAMED) return undefined;
      const name = `monban_${createHash('sha256').update(text).digest('hex').slice(0, 32)}`;
      names.set(text, name);
      sentOnce.delete(text);
      return name;
    },
  };
}

function mustResendUnnamed(err: unknown): boolean {
  const { code, message } = err as { code?: string; message?: string };
  if (code === '26000') return true; // invalid_sql_statement_name: the server lost it
  return code === '0A000' && /cached plan must not change result type/.test(message ?? '');
}

/** Per pg connection: the texts that must go unnamed on it from now on. */
const staleOnConnection = new WeakMap<pg.PoolClient, Set<string>>();

class PreparingClient implements PostgresPoolClient {
  #inTransaction = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly names: StatementNames,
  ) {}

  query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    sqlOrCursor: string | PostgresCursor<R>,
    parameters?: ReadonlyArray<unknown>,
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    if (typeof sqlOrCursor === 'string') return this.#send<R>(sqlOrCursor, parameters ?? []);
    return (this.client.query as (cursor: unknown) => unknown).call(this.client, sqlOrCursor) as PostgresCursor<R>;
  }

  async #send<R>(text: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
    const values = [...parameters];
    const unnamed = () => this.client.query(text, values) as unknown as Promise<PostgresQueryResult<R>>;
    if (TRANSACTION_START.test(text)) this.#inTransaction = true;
    else if (TRANSACTION_END.test(text)) this.#inTransaction = false;
    const stale = staleOnConnection.get(this.client);
    const name = values.length === 0 || this.#inTransaction || stale?.has(text) ? undefined : this.names.nameFor(text);
    if (!name) return unnamed();
    try {
      return (await this.client.query({ name, text, values })) as unknown as PostgresQueryResult<R>;
    } catch (err) {
      if (!mustResendUnnamed(err)) throw err;
      if (stale) stale.add(text);
      else staleOnConnection.set(this.client, new Set([text]));
      return unnamed();
    }
  }

  release(): void {
    this.client.release();
  }
}

/** The pool Kysely's PostgresDialect takes, naming repeated statements (see above). */
export function preparingPool(pool: pg.Pool): PostgresPool {
  const names = statementNames();
  return {
    connect: async () => new PreparingClient(await pool.connect(), names),
    end: () => pool.end(),
  };
}
