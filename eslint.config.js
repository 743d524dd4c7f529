// Lint: typescript-eslint's type-aware rules that catch the bugs this engine cannot afford
// (a promise nobody awaits ends a run early; a switch missing a journal entry type misreads a
// run), plus import hygiene. Formatting is Prettier's job (npm run format:check).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'state/', '.scratch/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { project: ['./tsconfig.check.json'], tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-duplicate-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The engine reaches a state dir only through the RunStore it is handed (issue 22).
    files: ['src/engine/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:fs',
                'node:fs/*',
                'fs',
                '**/journal/reader.js',
                '**/journal/safe-fs.js',
                '**/journal/paths.js',
              ],
              message: 'the engine never touches a path: use the RunStore it is given (src/store/run-store.ts)',
            },
          ],
        },
      ],
    },
  },
  {
    // Below the CLI nothing reads the environment but src/env.ts (and src/exec, which hands it
    // on to the programs it spawns): what the user sees is rendered for their context in
    // src/cli (issue 27).
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/env.ts', 'src/exec/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'read the environment through src/env.ts (readEnv), or in src/cli for what the user sees',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
