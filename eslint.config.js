// ESLint: typescript-eslint's strict, type-aware rules (https://typescript-eslint.io/users/configs).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'data/**', 'coverage/**', 'node_modules/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // `_name` says "deliberately unused" (a parameter a signature needs, a field left out of a rest).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Numbers and booleans read naturally in messages and URLs.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `return seeOther(ctx, url)` ends a handler, sync or async, that returns nothing; the rule
      // cannot tell that from using a void value, which TypeScript refuses on its own.
      '@typescript-eslint/no-confusing-void-expression': 'off',
    },
  },
  {
    // Tests: a wrong `!` fails the test anyway, and checking the impossible is what tests do.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // jest's asymmetric matchers (expect.any, expect.stringContaining) are typed `any`.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      // json<T>(result): the test says what shape it expects a command to print.
      '@typescript-eslint/no-unnecessary-type-parameters': 'off',
    },
  },
  {
    // Migrations are frozen in time and use Kysely<any> (kysely's migration guide).
    files: ['db/migrations/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  { files: ['**/*.{js,cjs,mjs}'], ...tseslint.configs.disableTypeChecked },
  { files: ['public/**/*.js'], languageOptions: { globals: globals.browser } },
  { files: ['*.js', 'scripts/**/*.mjs'], languageOptions: { globals: globals.node } },
  { files: ['*.cjs'], languageOptions: { globals: globals.node, sourceType: 'commonjs' } },
);
