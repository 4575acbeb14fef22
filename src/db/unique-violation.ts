/**
 * Whether `err` is PostgreSQL's unique_violation (SQLSTATE 23505) on `constraint`. pg names the
 * constraint in its own field; PGlite may name it only in the message.
 */
export function isUniqueViolation(err: unknown, constraint: string): boolean {
  const e = err as { code?: string; constraint?: string; message?: string };
  return e.code === '23505' && (e.constraint === constraint || (e.message ?? '').includes(constraint));
}
