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
};
