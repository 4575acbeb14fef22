import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { passwordHashSlots, runningPoolThreads, sizeThreadpool, threadpoolSize } from '../../src/config/threadpool.js';

describe("libuv's thread pool", () => {
  it("is sized one thread above libuv's 4 or the cores, unless the operator set UV_THREADPOOL_SIZE", () => {
    const sized = (env: NodeJS.ProcessEnv, cores: number, running = 0) => {
      sizeThreadpool(env, cores, running);
      return env.UV_THREADPOOL_SIZE;
    };
    expect(sized({}, 2)).toBe('5');
    expect(sized({}, 8)).toBe('9');
    expect(sized({ UV_THREADPOOL_SIZE: '2' }, 8)).toBe('2');
    // Already running (a loader started it): its size cannot change, and the hashes count on it.
    expect(sized({}, 8, 4)).toBe('4');
  });

  it("counts the pool's threads already running in this process", async () => {
    // Jest's process has used the pool by now (its own reads, this file's): libuv's 4 threads.
    const { pbkdf2 } = await import('node:crypto');
    await new Promise((resolve) => pbkdf2('a', 'b', 1, 32, 'sha256', resolve));
    expect(runningPoolThreads()).toBe(threadpoolSize());
  });

  it('leaves one of its threads free of password hashes, as libuv reads the setting', () => {
    expect([threadpoolSize({}), passwordHashSlots({})]).toEqual([4, 3]);
    expect([threadpoolSize({ UV_THREADPOOL_SIZE: '9' }), passwordHashSlots({ UV_THREADPOOL_SIZE: '9' })]).toEqual([
      9, 8,
    ]);
    // A pool of one thread still hashes; libuv caps the pool at 1024 and ignores what is not a number.
    expect(passwordHashSlots({ UV_THREADPOOL_SIZE: '1' })).toBe(1);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: '5000' })).toBe(1024);
    expect(threadpoolSize({ UV_THREADPOOL_SIZE: 'many' })).toBe(4);
  });
});

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const POOL_SIZING_IMPORT = "import './cli/threadpool.js';";

/**
 * src/main.ts's first lines, up to and including the import that sizes libuv's pool, as a module
 * in `out` (src/entry-prelude.js), beside every local module they load, transpiled. The tests'
 * servers run under tsx, whose loader has started the pool before the entry point runs; this
 * runs the entry point's start as the built server runs it.
 */
function writeEntryPrelude(out: string): string {
  const main = readFileSync(path.join(ROOT, 'src/main.ts'), 'utf8');
  const end = main.indexOf(POOL_SIZING_IMPORT);
  if (end < 0) throw new Error(`src/main.ts no longer has ${POOL_SIZING_IMPORT}`);
  const written = new Set<string>();
  const write = (file: string, text: string) => {
    const target = path.join(out, file.replace(/\.ts$/, '.js'));
    mkdirSync(path.dirname(target), { recursive: true });
    const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 };
    writeFileSync(target, ts.transpileModule(text, { compilerOptions: options }).outputText);
    for (const [, specifier] of text.matchAll(/(?:from|import)\s+'(\.{1,2}\/[^']+)\.js'/g)) {
      const imported = path.join(path.dirname(file), `${specifier!}.ts`);
      if (written.has(imported)) continue;
      written.add(imported);
      write(imported, readFileSync(path.join(ROOT, imported), 'utf8'));
    }
  };
  write('src/entry-prelude.ts', main.slice(0, end + POOL_SIZING_IMPORT.length));
  writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'));
  return path.join(out, 'src/entry-prelude.js');
}

/** A fresh Node runs `entry`, then keeps libuv's pool busy: the pool's threads, and the setting it left. */
function poolAfter(entry: string, env: NodeJS.ProcessEnv): { threads: number; setting?: string } {
  // The prelude loaded config/threadpool.js already; importing it again afterwards starts nothing.
  const threadpool = pathToFileURL(path.join(path.dirname(entry), 'config/threadpool.js')).href;
  const script = `
    await import(${JSON.stringify(pathToFileURL(entry).href)});
    const { runningPoolThreads } = await import(${JSON.stringify(threadpool)});
    const { pbkdf2 } = await import('node:crypto');
    await Promise.all(Array.from({ length: 32 }, () => new Promise((done) => pbkdf2('a', 'b', 1000, 32, 'sha256', done))));
    console.log(JSON.stringify({ threads: runningPoolThreads(), setting: process.env.UV_THREADPOOL_SIZE }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`the probe failed: ${run.stderr}`);
  return JSON.parse(run.stdout) as { threads: number; setting?: string };
}

(process.platform === 'linux' ? describe : describe.skip)("the server's entry point (a fresh process)", () => {
  let out: string;
  let entry: string;
  beforeAll(() => {
    out = mkdtempSync(path.join(tmpdir(), 'monban-entry-'));
    entry = writeEntryPrelude(out);
  });
  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  const base = { PATH: process.env.PATH, HOME: process.env.HOME };

  it("sizes libuv's pool before anything has started it: one thread above libuv's 4 or the cores", () => {
    const size = Math.max(4, availableParallelism()) + 1;
    expect(poolAfter(entry, base)).toEqual({ threads: size, setting: String(size) });
  });

  it("keeps the operator's UV_THREADPOOL_SIZE", () => {
    expect(poolAfter(entry, { ...base, UV_THREADPOOL_SIZE: '3' })).toEqual({ threads: 3, setting: '3' });
  });
});
