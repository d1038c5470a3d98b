/**
 * Prerequisites of the API-server tests: Go (to build the binaries), root and `ip` (network namespaces), openssl
 * (serving certificate). A missing one fails the tests, so "passed" means they ran; only the explicit opt-out
 * `KROUTE_ALLOW_MISSING=1` (never with `CI=true`) skips them, with a `SKIPPED:` line (docs/testing.md).
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
 * Resolves true when the API-server tests can run. When something is missing it throws, unless
 * `KROUTE_ALLOW_MISSING=1` and not `CI=true`: then it resolves false (the caller skips its tests).
 */
export async function requireGoOrSkip(): Promise<boolean> {
  const missing = await missingPrerequisites();
  if (missing.length === 0) return true;
  const message = `API-server tests need: ${missing.join('; ')}`;
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true: a missing prerequisite fails, never skips)`);
  if (process.env.KROUTE_ALLOW_MISSING !== '1') throw new Error(`${message} (set KROUTE_ALLOW_MISSING=1 to skip these tests instead)`);
  console.warn(`SKIPPED: ${message}`);
  return false;
}
