/*
 * The embedded database's own thread (pglite-thread.ts starts it). It imports nothing of Monban's,
 * so that Node can run this file as it is under the tests (its types stripped) and built.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PGlite, types } from '@electric-sql/pglite';

interface Start {
  /** A data directory, or 'memory://'. */
  location: string;
  /** In memory only: a dump of a data directory to start from (PGlite's dumpDataDir). */
  dump?: Uint8Array;
}

type Request =
  | { id: number; op: 'query'; sql: string; params: unknown[] }
  | { id: number; op: 'listen'; channel: string }
  | { id: number; op: 'close' };

/**
 * What a PostgreSQL error says, and nothing of the statement's parameters, which PGlite attaches
 * to its errors and may hold a hashed code or an email (kept out of logs).
 */
const ERROR_FIELDS = [
  'name',
  'message',
  'severity',
  'code',
  'detail',
  'hint',
  'position',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'routine',
] as const;

function describeError(err: unknown): Record<string, unknown> {
  const source = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as Record<string, unknown>;
  const fields: Record<string, unknown> = {};
  for (const field of ERROR_FIELDS) {
    const value = source[field];
    if (typeof value === 'string' || typeof value === 'number') fields[field] = value;
  }
  return fields;
}

if (!parentPort) throw new Error('pglite-thread-worker runs as a worker thread');
const port: MessagePort = parentPort;
const { location, dump } = workerData as Start;

let pglite: PGlite;
try {
  pglite = dump ? await PGlite.create({ loadDataDir: new Blob([dump]) }) : await PGlite.create(location);
} catch (err) {
  port.postMessage({ started: false, error: describeError(err) });
  process.exit(1);
}
// PGlite 0.4 copies its instance's table of type parsers (316 of them, array types included)
// into a new object for every statement's result, about a sixth of a one-row statement's CPU.
// Where the copy lacks a type, it falls back on the module's own table: moved there, and left to
// the instance only as the prototype of an empty table (which a copy leaves out, and where an
// array's parser still finds its element's), the same parsers give the same values without the
// copy. This thread holds one PGlite, so the module's table is its alone. (PGlite 0.6 no longer
// copies; see the README on that upgrade.)
Object.assign(types.parsers, pglite.parsers);
pglite.parsers = Object.create(types.parsers) as typeof pglite.parsers;
port.postMessage({ started: true });

async function answer(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'query': {
      const { rows, affectedRows } = await pglite.query(request.sql, request.params);
      return { rows, affectedRows };
    }
    case 'listen':
      await pglite.listen(request.channel, (payload) => port.postMessage({ channel: request.channel, payload }));
      return undefined;
    case 'close':
      await pglite.close();
      return undefined;
  }
}

port.on('message', (request: Request) => {
  answer(request).then(
    (result) => {
      port.postMessage({ id: request.id, result });
      if (request.op === 'close') port.close();
    },
    (err: unknown) => port.postMessage({ id: request.id, error: describeError(err) }),
  );
});
