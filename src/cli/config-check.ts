import './supported-node.js';
import { configDirFrom, ConfigError, loadConfig } from '../config/load.js';
import { developmentDefaultWarnings, maskSecrets } from '../config/report.js';

// `npm run config:check` / `monban config-check`: validates the configuration as a start would and
// prints the effective settings (files + environment), secrets masked, then any warnings.
try {
  const config = loadConfig();
  process.stdout.write(`# config folder: ${configDirFrom(process.env)}\n`);
  process.stdout.write(`${JSON.stringify(maskSecrets(config), null, 2)}\n`);
  for (const warning of developmentDefaultWarnings(config, process.env)) process.stderr.write(`warning: ${warning}\n`);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`error: ${err.message}\n`);
  process.exitCode = 78; // EX_CONFIG
}
