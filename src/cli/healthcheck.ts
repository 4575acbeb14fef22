import { loadConfig } from '../config/load.js';

// `monban healthcheck`: the container's HEALTHCHECK. Asks this container's own /readyz on loopback.
const { port } = loadConfig();
try {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(3000) });
  process.stdout.write(`${res.status} ${await res.text()}\n`);
  process.exitCode = res.status === 200 ? 0 : 1;
} catch (err) {
  process.stdout.write(`unreachable: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
