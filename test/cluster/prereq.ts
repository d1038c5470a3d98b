/**
 * Prerequisites of the API-server tests: Go (to build the binaries), root and `ip` (network namespaces), openssl
 * (serving certificate). Locally a missing one skips the tests with a message; in CI (`CI=true`) it is an error,
 * so CI never passes by skipping.
 */
import { goVersion } from './binaries.js';
import { hasCommand } from '../net/netns.js';

/** What is missing for the API-server tests; empty when everything is there. */
export async function missingPrerequisites(): Promise<string[]> {
  const missing: string[] = [];
  if (!(await goVersion())) missing.push('Go (go on PATH) to build etcd, kube-apiserver and kubectl');
  if (process.getuid?.() !== 0) missing.push('root (the control plane runs in a network namespace)');
  if (!(await hasCommand('ip'))) missing.push('iproute2 (ip)');
  if (!(await hasCommand('openssl'))) missing.push('openssl (the serving certificate)');
  return missing;
}

/**
 * Resolves true when the API-server tests can run. When something is missing it resolves false locally (the
 * caller skips its tests) and throws when `process.env.CI === 'true'`.
 */
export async function requireGoOrSkip(): Promise<boolean> {
  const missing = await missingPrerequisites();
  if (missing.length === 0) return true;
  const message = `API-server tests need: ${missing.join('; ')}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing prerequisite fails, never skips)`);
  console.warn(`SKIPPED: ${message}`);
  return false;
}
