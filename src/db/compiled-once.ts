import type { Compilable, CompiledQuery } from 'kysely';
import type { Db } from './database.js';

/**
 * A hot statement built with Kysely's query builder once per database, then run with new values.
 * Kysely builds and compiles a query anew at every call: for the login's account read (a join
 * with four subqueries) that was the largest single package in a profile of the password step
 * (issue 16).
 *
 * `build` is called once with `placeholders`, values that must not occur in the query otherwise
 * (a prefix no real value has); each compiled parameter equal to one of them is replaced by the
 * caller's value at every run. The SQL text stays the same, so PostgreSQL keeps one prepared
 * statement for it (prepared-statements.ts).
 */
export function compiledOnce<A extends string[], O>(
  build: (db: Db, ...values: A) => Compilable<O>,
  placeholders: A,
): (db: Db, ...values: A) => Promise<O[]> {
  const compiled = new WeakMap<Db, CompiledQuery<O>>();
  const compile = (db: Db): CompiledQuery<O> => {
    const query = build(db, ...placeholders).compile();
    for (const placeholder of placeholders)
      if (!query.parameters.includes(placeholder)) throw new Error(`compiledOnce: ${placeholder} is not a parameter`);
    compiled.set(db, query);
    return query;
  };
  return async (db, ...values) => {
    const query = compiled.get(db) ?? compile(db);
    const parameters = query.parameters.map((parameter) => {
      const index = placeholders.indexOf(parameter as string);
      return index === -1 ? parameter : values[index];
    });
    const { rows } = await db.executeQuery<O>({ ...query, parameters });
    return rows;
  };
}
