// Imported first by every entry point: ES modules are evaluated in import order, so this refuses an
// unsupported Node before any dependency loads (oidc-provider 9 warns, and may fail, below 22).
// Node 22 and 24 are supported, 24 recommended; 20 reached its end of life on 2026-04-30.
const MIN_NODE_MAJOR = 22;

const major = Number(process.versions.node.split('.')[0]);
if (major < MIN_NODE_MAJOR) {
  process.stderr.write(
    `Monban cannot start: Node.js ${String(MIN_NODE_MAJOR)} or later is required (24 recommended); this is v${process.versions.node}.\n` +
      'The npm scripts (npm start, npm run admin, ...) run on the Node.js 24 that `npm ci` installs into ' +
      'node_modules (the `node` development dependency); to run dist/ yourself, install Node.js 24.\n',
  );
  process.exit(1);
}

export {};
