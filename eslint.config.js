import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** The core stays pure: no frameworks, no I/O. The linter holds that border. */
const coreRestrictions = {
  paths: ['cdk8s', 'constructs', 'child_process', 'node:child_process', 'fs', 'node:fs', 'fs/promises',
    'node:fs/promises', 'net', 'node:net', 'http', 'node:http', '@kubernetes/client-node'],
  patterns: ['@pulumi/*', '../agent/*', '../constructs/*', '../pulumi-provider/*'],
};

export default tseslint.config(
  { ignores: ['lib/**', '*/lib/**', '.cache/**', 'dist/**', 'node_modules/**', 'coverage/**', '**/node_modules/**', 'pulumi-provider/plugin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  { files: ['scripts/**/*.mjs'], languageOptions: { globals: { process: 'readonly', console: 'readonly' } } },
  { files: ['core/**/*.ts'], rules: { 'no-restricted-imports': ['error', coreRestrictions] } },
  {
    files: ['constructs/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: ['@pulumi/*', '@kubernetes/client-node'] }] },
  },
  {
    files: ['pulumi-provider/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: ['cdk8s', 'constructs'] }] },
  },
);
