import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_SECRET } from './env.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** tsx's loader imported into node directly, which spares the extra process the tsx binary starts. */
export const CLI_ARGV = ['--import', 'tsx', 'src/admin/cli.ts'];

/**
 * What an operator's shell gives `npm run admin` on a PostgreSQL database: the URL and the
 * secret, and none of the test process's server settings (no Redis, no issuer, no data folder).
 */
export function cliEnv(databaseUrl: string, secret = TEST_SECRET): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl, MONBAN_SECRET: secret };
  for (const name of ['REDIS_URL', 'NODE_OPTIONS', 'ISSUER', 'PORT', 'LOG_LEVEL', 'DATA_DIR', 'MONBAN_ADMIN_URL'])
    env[name] = undefined;
  return env;
}

/** `npm run admin -- <args>` as its own process with `env`; what it printed and how it exited. */
export function runAdminCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI_ARGV, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
