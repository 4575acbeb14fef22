/** Jest in ESM mode with ts-jest (see README: tests need NODE_OPTIONS=--experimental-vm-modules). */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // TS sources import './x.js' for './x.ts'. Requests ending in '.json.js' are left alone: packages such as
  // libphonenumber-js import 'metadata.max.json.js' (an ESM wrapper), and stripping '.js' would load the raw JSON.
  moduleNameMapper: { '^(\\.{1,2}/(?!.*\\.json\\.js$).*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: [151002] } }],
  },
  testTimeout: 60000,
  maxWorkers: 2,
  // Each test file's ESM modules stay in its worker's heap (vm modules are not collected), so a
  // worker that has run a hundred files reached Node's heap limit in CI. A worker past 1.5 GB is
  // replaced before its next file.
  workerIdleMemoryLimit: '1536MB',
};
