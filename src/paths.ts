import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The install folder, where config/, views/ and public/ live: src/.. from source, dist/src/../..
 * when built. Resolved from this file, not the working directory, so Monban starts the same from
 * any folder (a service manager, a container, `cd /tmp && node /opt/monban/dist/src/main.js`).
 */
function installRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}
export const PROJECT_ROOT = installRoot();
