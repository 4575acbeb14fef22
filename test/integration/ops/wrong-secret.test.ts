import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createScratchDatabase } from '../../helpers/databases.js';
import { freePort } from '../../helpers/ports.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function run(entry: string, args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
}

const MISMATCH = 'MONBAN_SECRET does not open the keys stored in this database';

/**
 * Issue 14: a database used with one MONBAN_SECRET, opened with another, is refused in words
 * by the server and by the CLI, before anything is written (no users who can never log in).
 */
describe('a wrong MONBAN_SECRET', () => {
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>> | undefined;
  let database: { DATABASE_URL: string };
  const secret = () => randomBytes(32).toString('hex');
  const used = secret();

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    database = { DATABASE_URL: scratch.url };
    const made = await run('src/admin/cli.ts', ['client', 'list', '--json'], {
      ...database,
      MONBAN_SECRET: used,
    });
    expect([made.code, made.stdout.trim()]).toEqual([0, '[]']);
  }, 120_000);
  afterAll(async () => {
    await scratch?.drop();
  });

  it('stops the server at start with a message, not a stack trace', async () => {
    const port = await freePort();
    const { code, stderr } = await run('src/main.ts', [], {
      ...database,
      MONBAN_SECRET: secret(),
      PORT: String(port),
    });
    expect(code).toBe(1);
    expect(stderr).toContain(`Monban cannot start: ${MISMATCH}`);
    expect(stderr).not.toMatch(/^\s+at /m);
  }, 120_000);

  it('stops the CLI with a message; the right secret still opens everything', async () => {
    const wrong = await run('src/admin/cli.ts', ['client', 'list', '--json'], {
      ...database,
      MONBAN_SECRET: secret(),
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toBe('');
    expect(wrong.stderr).toContain(`error: ${MISMATCH}`);
    expect(wrong.stderr).not.toMatch(/^\s+at /m);
    const right = await run('src/admin/cli.ts', ['client', 'list', '--json'], {
      ...database,
      MONBAN_SECRET: used,
    });
    expect(right.code).toBe(0);
  }, 120_000);
});
