import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

// Node 20 as seen by the program: process.versions.node is configurable, so a preload can claim it.
const CLAIM_NODE_20 = `data:text/javascript,Object.defineProperty(process.versions,'node',{value:'20.20.2'})`;

function runOn(entry: string, args: string[], claimNode20: boolean): Promise<{ code: number | null; stderr: string }> {
  const preload = claimNode20 ? ['--import', CLAIM_NODE_20] : [];
  const child = spawn(process.execPath, [...preload, '--import', 'tsx', entry, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', DATA_DIR: '/nonexistent/monban' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe('an unsupported Node.js', () => {
  it.each([
    ['the server', 'src/main.ts', []],
    ['the image entry point', 'src/cli/monban.ts', ['migrate']],
    ['the admin CLI', 'src/admin/cli.ts', ['client', 'list']],
  ])('is refused by %s with a message, before any dependency loads', async (_name, entry, args) => {
    const { code, stderr } = await runOn(entry, args, true);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'Monban cannot start: Node.js 22 or later is required (24 recommended); this is v20.20.2.',
    );
    expect(stderr).toContain('npm ci');
    // oidc-provider, had it loaded, would have printed its own warning first.
    expect(stderr).not.toContain('oidc-provider');
  });

  it('is not what the npm scripts run: the same entry on this Node goes past the check', async () => {
    expect(Number(process.versions.node.split('.')[0])).toBeGreaterThanOrEqual(22);
    const { stderr } = await runOn('src/cli/monban.ts', ['help'], false);
    expect(stderr).toContain('Usage: monban <command>');
    expect(stderr).not.toContain('cannot start');
  });
});
