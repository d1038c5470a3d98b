/** Jest runs the TypeScript sources as ES modules (client-node 1.x is ESM only). */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: '<rootDir>/test/lab/jest-environment.ts',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true }] },
  // Installs (or names) what the real-network, API-server and image tests need, so "passed" means all of them ran.
  globalSetup: '<rootDir>/test/lab/global-setup.ts',
  testTimeout: 120000,
  // Network-namespace and API-server tests share the kernel and ports: run files one after another.
  maxWorkers: 1,
};
