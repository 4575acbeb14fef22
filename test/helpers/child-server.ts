import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { closeServices, openServices } from '../../src/app.js';
import { createClient } from '../../src/admin/clients.js';
import { loadConfig } from '../../src/config/load.js';
import { createAccount } from '../../src/identity/accounts/service.js';
import { ensureServerKeys } from '../../src/oidc/keys.js';
import { createScratchDatabase, scratchRedis } from './databases.js';
import { TEST_REDIS_URL, TEST_SECRET } from './env.js';
import { authorizationUrl, exchangeCode, RP_CALLBACK, TEST_PASSWORD } from './fixtures.js';
import { HttpClient, loginThroughPages } from './http-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** One Monban started as an operator starts it (`src/main.ts` in its own process), on a port. */
export class ChildServer {
  private log = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.log += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts `src/main.ts` with tsx's loader (and `nodeArgs` before it), with these variables over a clean environment. */
  static async start(port: number, env: Record<string, string>, nodeArgs: string[] = []): Promise<ChildServer> {
    const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test' };
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: { ...base, PORT: String(port), LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const server = new ChildServer(port, child);
    await server.waitUntilReady();
    return server;
  }

  get output(): string {
    return this.log;
  }

  /** The server's process id; on Linux also its main thread's (/proc/<pid>/task/<pid>). */
  get pid(): number {
    return this.child.pid!;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Resolves once /readyz answers 200; fails if the process exits first or 240 s pass (a loaded machine starts PGlite slowly). */
  async waitUntilReady(): Promise<void> {
    let exited = false;
    void this.exited.then(() => (exited = true));
    const deadline = Date.now() + 240_000;
    while (Date.now() < deadline && !exited) {
      try {
        const res = await fetch(`http://127.0.0.1:${this.port}/readyz`);
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    this.child.kill('SIGKILL');
    throw new Error(`Monban on port ${this.port} did not become ready:\n${this.log}`);
  }

  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** A database with a client and a user, shared by child servers; Redis keys under one prefix. */
export interface SharedDeployment {
  env: Record<string, string>;
  client: { client_id: string; client_secret?: string };
  email: string;
  close(): Promise<void>;
}

export async function sharedDeployment(
  issuer: string,
  extraEnv: Record<string, string> = {},
): Promise<SharedDeployment> {
  const scratch = await createScratchDatabase();
  const redis = scratchRedis();
  const config = loadConfig({
    env: { NODE_ENV: 'test' },
    overrides: { databaseUrl: scratch.url, secret: TEST_SECRET, dataDir: 'memory://', issuer },
  });
  const services = await openServices(config);
  const email = `load-${randomBytes(4).toString('hex')}@example.com`;
  let client: SharedDeployment['client'];
  try {
    await ensureServerKeys(services.db, services.box);
    client = await createClient(services, {
      name: 'Load RP',
      redirectUris: [RP_CALLBACK],
      postLogoutRedirectUris: [],
      isPublic: false,
      extraGrants: [],
    });
    await createAccount(services.db, services.hasher, services.policy, {
      email,
      password: TEST_PASSWORD,
      givenName: 'Hanako',
      familyName: 'Yamada',
      locale: 'ja',
      status: 'active',
      emailVerified: true,
    });
  } catch (err) {
    await redis.close();
    await scratch.drop();
    throw err;
  } finally {
    await closeServices(services);
  }
  return {
    env: {
      DATABASE_URL: scratch.url,
      REDIS_URL: TEST_REDIS_URL,
      MONBAN_REDIS_KEY_PREFIX: redis.prefix,
      MONBAN_SECRET: TEST_SECRET,
      ISSUER: issuer,
      // Hundreds of logins from 127.0.0.1 in a minute are the point here, not an attack.
      MONBAN_RATE_LIMITS__LOGIN_PER_IP: '{"points":100000,"durationSeconds":900}',
      MONBAN_RATE_LIMITS__LOGIN_PER_ACCOUNT: '{"points":100000,"durationSeconds":900}',
      ...extraEnv,
    },
    client,
    email,
    async close() {
      await redis.close();
      await scratch.drop();
    },
  };
}

/** A whole login as an RP and a browser do it: pages, consent, code, tokens. Throws on any failure. */
export async function fullLogin(issuer: string, deployment: SharedDeployment): Promise<void> {
  const browser = new HttpClient();
  const auth = authorizationUrl(issuer, deployment.client.client_id);
  const page = await loginThroughPages(browser, auth.url, RP_CALLBACK, {
    email: deployment.email,
    password: TEST_PASSWORD,
  });
  if (!page.location?.startsWith(RP_CALLBACK)) {
    // Who answered tells a proxy's refusal (Server: Caddy, empty body) from Monban's own error page.
    const from = page.headers.get('server') ?? 'Monban';
    throw new Error(
      `login stopped: ${page.status} from ${from} at ${page.url} ${/<title>([^<]*)</.exec(page.body)?.[1] ?? ''}`,
    );
  }
  const code = new URL(page.location).searchParams.get('code');
  if (!code) throw new Error(`no code: ${page.location}`);
  const tokens = await exchangeCode(issuer, deployment.client, code, auth.verifier);
  if (tokens.status !== 200) throw new Error(`token endpoint answered ${tokens.status}: ${await tokens.text()}`);
}

/** Logins in a loop from `workers` browsers until stop() is called; counts every outcome. */
export function loginLoad(issuer: string, deployment: SharedDeployment, workers: number) {
  let stopping = false;
  const failures: string[] = [];
  let completed = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (!stopping) {
      try {
        await fullLogin(issuer, deployment);
        completed += 1;
      } catch (err) {
        failures.push(
          err instanceof Error ? `${err.message} ${err.cause instanceof Error ? err.cause.message : ''}` : String(err),
        );
      }
    }
  });
  return {
    get completed() {
      return completed;
    },
    failures,
    /** No new login starts; resolves when every started login has ended. */
    async stop() {
      stopping = true;
      await Promise.all(loops);
    },
  };
}
