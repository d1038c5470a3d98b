/**
 * The test command's own setup (Jest globalSetup): "passed" means the whole suite ran. Before any test it checks
 * what the real-network, API-server and image tests need — root, the Debian packages of .ci/debian-packages, Go —
 * and installs the missing packages itself when it can (root and apt-get: `bash .ci/install-packages`, the script
 * CI runs). What it cannot fix stops the run at once with the one command that does.
 *
 * Then it builds the Go binaries the tests use (test/cluster/build-binaries.ts, from the built lib/), each a cache
 * hit after its first build, so a fresh machine's cold build happens here, family by family, not inside a test's
 * hook timeout.
 *
 * The only way past a missing prerequisite is explicit: `KROUTE_ALLOW_MISSING=1` (never with `CI=true`) skips the
 * installation and the check; tests whose prerequisite is missing then skip with a `SKIPPED:` line or fail.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Jest loads a globalSetup file without the tests' module mapping: this file imports nothing relative. The
// environment is passed explicitly: in a test file, `process.env` is the sandbox's own copy.
const sh = (cmd: string, args: readonly string[]) => spawnSync(cmd, [...args], { encoding: 'utf8', env: process.env });
const hasCommand = (cmd: string): boolean => sh('sh', ['-c', 'command -v "$1"', 'sh', cmd]).status === 0;

/** The repository root (from test/lab or lib/test/lab). */
const ROOT = dirname(fileURLToPath(import.meta.url)).replace(/\/lib\/test\/lab$/, '').replace(/\/test\/lab$/, '');
/** The one list of Debian packages, shared with .ci/run. */
export const PACKAGE_LIST = join(ROOT, '.ci', 'debian-packages');
/** The command that installs them. */
export const INSTALL_COMMAND = 'sudo bash .ci/install-packages';
/** The explicit opt-out. */
export const ALLOW_MISSING = 'KROUTE_ALLOW_MISSING';

/** The packages of .ci/debian-packages. */
export function requiredPackages(): string[] {
  return readFileSync(PACKAGE_LIST, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}

/** The required packages dpkg does not report installed (all of them where there is no dpkg). */
export function missingPackages(pkgs: readonly string[] = requiredPackages()): string[] {
  if (!hasCommand('dpkg-query')) return [...pkgs];
  const r = sh('dpkg-query', ['-W', '-f', '${Package} ${db:Status-Status}\\n', ...pkgs]);
  const installed = new Set(r.stdout.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]));
  return pkgs.filter((p) => !installed.has(p));
}

/** What is missing and cannot be installed here; installs the packages when it can. */
export function ensurePrerequisites(log: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): string[] {
  const problems: string[] = [];
  const root = process.getuid?.() === 0;
  if (!root) problems.push('root (network namespaces, rootful podman): run the tests as root');
  let missing = missingPackages();
  if (missing.length > 0 && root && hasCommand('apt-get')) {
    log(`[test setup] missing Debian packages: ${missing.join(' ')}; installing them (bash .ci/install-packages)`);
    const r = spawnSync('bash', [join(ROOT, '.ci', 'install-packages')], { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
    if (r.status !== 0) log(`[test setup] bash .ci/install-packages failed (${r.status ?? r.signal})`);
    missing = missingPackages();
  }
  if (missing.length > 0) problems.push(`the Debian packages ${missing.join(' ')} (${INSTALL_COMMAND})`);
  // The same question test/cluster/binaries.ts asks before it builds the control plane.
  if (sh('go', ['env', 'GOVERSION']).status !== 0) problems.push('Go on PATH, to build etcd, kube-apiserver and kubectl (https://go.dev/dl; see docs/control-plane.md)');
  return problems;
}

/** Jest globalSetup. */
export default async function globalSetup(): Promise<void> {
  if (process.env[ALLOW_MISSING] === '1' && process.env.CI !== 'true') {
    process.stderr.write(`[test setup] ${ALLOW_MISSING}=1: prerequisites neither checked nor installed; tests missing one skip (SKIPPED:) or fail\n`);
    return;
  }
  const problems = ensurePrerequisites();
  if (problems.length > 0) {
    throw new Error(`the test suite needs:\n  - ${problems.join('\n  - ')}\nfix: ${INSTALL_COMMAND}, then npm test again ` +
      `(or ${ALLOW_MISSING}=1 npm test to run without them, skipping or failing what needs them; never with CI=true)`);
  }
  ensureGoBinaries();
}

/** The built script that builds (or finds in the cache) every Go binary family of the tests. */
export const BUILD_BINARIES = join(ROOT, 'lib', 'test', 'cluster', 'build-binaries.js');

/** Runs it with its progress on stderr; a failed build stops the run with its reason. */
export function ensureGoBinaries(): void {
  const r = spawnSync(process.execPath, [BUILD_BINARIES], { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
  if (r.status !== 0) {
    throw new Error(`the test suite's Go binaries could not be built (node ${BUILD_BINARIES} exited ${r.status ?? r.signal}; ` +
      'its reason is printed above; `npm run build` first if lib/ is missing)');
  }
}
