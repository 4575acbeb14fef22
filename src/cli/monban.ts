// The image's entry point (`docker run IMAGE <command>`), also `node dist/src/cli/monban.js <command>`
// from any built install: one compiled program for the server and every operator command.
import './supported-node.js';

const USAGE = `Usage: monban <command>

  serve                 run the server (the default)
  migrate               apply pending database migrations, then exit
  admin <args>          the admin CLI (clients, users, keys, secrets); \`admin help\` lists it
  config-check          print the effective configuration, secrets masked
  healthcheck           exit 0 when this container's /readyz answers 200 (Docker HEALTHCHECK)`;

const COMMANDS: Record<string, () => Promise<unknown>> = {
  serve: () => import('../main.js'),
  migrate: () => import('./migrate.js'),
  admin: () => import('../admin/cli.js'),
  'config-check': () => import('./config-check.js'),
  healthcheck: () => import('./healthcheck.js'),
};

const [command = 'serve', ...rest] = process.argv.slice(2);
const run = COMMANDS[command];
if (!run) {
  process.stderr.write(`${USAGE}\n`);
  process.exitCode = command === 'help' || command === '--help' ? 0 : 64;
} else {
  // Each command reads its own arguments from process.argv.slice(2).
  process.argv.splice(2, process.argv.length - 2, ...rest);
  await run();
}
