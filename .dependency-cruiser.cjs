/**
 * The layers of src/, bottom first (README, "Layout"). A module may import from its own layer
 * and the layers below it, never from a layer above, and no import cycle is allowed anywhere.
 * `npm run lint` (and so CI) runs this with dependency-cruiser.
 */
const FLOW_DOMAIN = '^src/flows/(kernel/|[^/]+/(service|state)\\.ts$)';

const LAYERS = [
  {
    name: 'foundation',
    path: '^src/(config/|text/|types/|observability/|errors\\.ts$|logger\\.ts$|paths\\.ts$|request-meta\\.ts$|constant-time\\.ts$|bounded-map\\.ts$)',
  },
  { name: 'storage', path: '^(src/db/|src/redis/|src/events/|db/)' },
  { name: 'security', path: '^src/security/' },
  { name: 'courier', path: '^src/courier/' },
  { name: 'identity', path: '^src/identity/' },
  { name: 'oidc', path: '^src/oidc/' },
  { name: 'flow services', path: FLOW_DOMAIN },
  // server/: the HTTP listener and the process lifecycle, beside the web mechanisms.
  { name: 'http', path: '^src/(http|server)/' },
  { name: 'web', path: '^src/(interactions|flows)/', pathNot: FLOW_DOMAIN },
  { name: 'wiring', path: '^src/(app\\.ts|main\\.ts|cluster\\.ts|admin/|cli/)' },
];

const upwardImports = LAYERS.slice(0, -1).map((layer, index) => ({
  name: `no-upward-import-from-${layer.name.replace(/ /g, '-')}`,
  comment: `${layer.name} may import only from itself and the layers below it`,
  severity: 'error',
  from: { path: layer.path, ...(layer.pathNot ? { pathNot: layer.pathNot } : {}) },
  to: {
    path: LAYERS.slice(index + 1)
      .map((above) => `(${above.path})`)
      .join('|'),
    pathNot: [layer.path, ...LAYERS.slice(0, index).map((below) => below.path)].join('|'),
  },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make modules impossible to read, test or load on their own.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'http-imports-only-the-foundation',
      comment:
        'http/ (pages, cookies, CSRF, locale, error handler) knows nothing of the domain: it imports only config, errors, text and logger.',
      severity: 'error',
      from: { path: '^src/http/' },
      to: { path: '^src/', pathNot: `^src/http/|${LAYERS[0].path}` },
    },
    {
      name: 'migrations-stand-alone',
      comment: 'A migration is frozen in time: it never imports application code.',
      severity: 'error',
      from: { path: '^db/migrations/' },
      to: { path: '^src/' },
    },
    ...upwardImports,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
