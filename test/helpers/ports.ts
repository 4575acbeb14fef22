import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Test ports come from below the range the kernel takes the local ports of outgoing connections
 * from (net.ipv4.ip_local_port_range). A port picked inside it (what listening on port 0 gives)
 * and bound only later, by a child process say, can meanwhile become the local end of some
 * connection to PostgreSQL or Redis, and the later bind fails.
 */
const FIRST_PORT = 10_000;
/** Each Jest worker picks from a slice of its own, so that two workers never pick the same port. */
const SLICES = 8;

function outgoingRangeStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 0) return low;
  } catch {
    // Not Linux: its default.
  }
  return 32_768;
}

function thisWorkersSlice(): { from: number; size: number } | undefined {
  const size = Math.floor((outgoingRangeStart() - FIRST_PORT) / SLICES);
  if (size < 100) return undefined;
  const worker = (Number(process.env.JEST_WORKER_ID ?? '1') - 1) % SLICES;
  return { from: FIRST_PORT + worker * size, size };
}

const slice = thisWorkersSlice();
/** Handed out by this process already: not handed out again, even if nothing listens on it yet. */
const handedOut = new Set<number>();
let next = slice ? Math.floor(Math.random() * slice.size) : 0;

function listenOn(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const { port: bound } = server.address() as { port: number };
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A port on loopback that is free right now, and so is `port + offset` for each of `alsoFree`
 * (a Redis Cluster node's bus port, say). Never the same twice in one process.
 */
export async function freePort(alsoFree: number[] = []): Promise<number> {
  const attempts = slice ? slice.size : 100;
  for (let i = 0; i < attempts; i += 1) {
    const candidate = slice ? slice.from + (next++ % slice.size) : await listenOn(0);
    if (candidate === undefined || handedOut.has(candidate)) continue;
    if (alsoFree.some((offset) => candidate + offset > 65_535 || handedOut.has(candidate + offset))) continue;
    const free = (await Promise.all([candidate, ...alsoFree.map((o) => candidate + o)].map(listenOn))).every(
      (bound) => bound !== undefined,
    );
    if (!free) continue;
    handedOut.add(candidate);
    for (const offset of alsoFree) handedOut.add(candidate + offset);
    return candidate;
  }
  throw new Error('no free port on 127.0.0.1');
}
