import { createHash } from 'node:crypto';
import { realpathSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** Another process holds the embedded database. */
export class DatabaseInUseError extends Error {
  override name = 'DatabaseInUseError';
}

/**
 * Where the lock of one data folder lives: a name the kernel itself holds for the process that
 * bound it. On Linux an abstract Unix socket (no file: it goes when the process goes, however it
 * ends), on Windows a named pipe (the same); elsewhere (macOS) a socket file in the folder.
 */
function lockAddress(location: string): { address: string; file?: string } {
  const id = createHash('sha256').update(realpathSync(location)).digest('hex').slice(0, 40);
  if (process.platform === 'linux') return { address: `\0monban-pglite-${id}` };
  if (process.platform === 'win32') return { address: `\\\\.\\pipe\\monban-pglite-${id}` };
  const file = path.join(location, '.monban.lock');
  return { address: file, file };
}

function bind(server: net.Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) => reject(err);
    server.once('error', fail);
    server.listen(address, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

/** Whether a process answers on the socket file (if not, its owner is gone and left it behind). */
function answers(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(address);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * PGlite is PostgreSQL in one process: two processes on the same files corrupt them. The lock is
 * held by the kernel for as long as this process lives, so it cannot go stale while its holder
 * runs (however long a start blocks the event loop) and is released when it ends (even by
 * SIGKILL). A lock file with a timed refresh could do neither (issue 14). Returns the unlock.
 */
export async function lockDataDir(location: string): Promise<() => Promise<void>> {
  const { address, file } = lockAddress(location);
  const server = net.createServer((socket) => socket.destroy());
  try {
    await bind(server, address);
  } catch (err) {
    if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
    // A socket file whose process died stays behind; nothing else can (see lockAddress).
    if (!file || (await answers(address))) {
      throw new DatabaseInUseError(
        `the embedded database in ${location} is in use by another Monban process. ` +
          'Stop that process first, or set DATABASE_URL to share a PostgreSQL server between processes.',
      );
    }
    rmSync(file, { force: true });
    await bind(server, address);
  }
  // The lock must not keep the process alive by itself.
  server.unref();
  return () => new Promise<void>((resolve) => server.close(() => resolve()));
}
