import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChildServer } from '../../helpers/child-server.js';
import { freePort } from '../../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** `npm start` as an operator runs it, on the embedded default; resolves with how it ended or that it serves. */
function start(dataDir: string, port: number) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', DATA_DIR: dataDir, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const outcome = (async (): Promise<'serving' | 'exited'> => {
    let gone = false;
    void exited.then(() => (gone = true));
    for (;;) {
      if (gone) return 'exited';
      try {
        if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return 'serving';
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return { child, exited, outcome, output: () => output };
}

describe('the embedded data folder serves one process at a time', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'monban-lock-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('two starts at once: exactly one serves, the other stops with a clear message; a killed holder frees it', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const a = start(dataDir, portA);
    const b = start(dataDir, portB);
    const [ofA, ofB] = await Promise.all([a.outcome, b.outcome]);
    expect([ofA, ofB].sort()).toEqual(['exited', 'serving']);
    const [winner, loser] = ofA === 'serving' ? [a, b] : [b, a];
    expect(await loser.exited).toBe(1);
    expect(loser.output()).toMatch(/the embedded database in .* is in use by another Monban process/);
    expect(loser.output()).not.toMatch(/^\s+at /m);
    expect((await fetch(`http://127.0.0.1:${winner === a ? portA : portB}/readyz`)).status).toBe(200);

    // A holder that dies without cleaning up (SIGKILL) leaves no stale lock behind.
    winner.child.kill('SIGKILL');
    await winner.exited;
    const again = await ChildServer.start(await freePort(), { DATA_DIR: dataDir });
    expect((await fetch(`http://127.0.0.1:${again.port}/readyz`)).status).toBe(200);
    again.signal('SIGTERM');
    await again.exited;
  }, 400_000);
});
