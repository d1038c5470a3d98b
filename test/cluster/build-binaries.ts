/**
 * Builds every Go binary family the tests use, once, before any test runs (the test command's globalSetup runs
 * this as a child process; `npm run binaries` runs it by hand). Each family is a cache hit after its first build
 * (./binaries.ts); on a fresh machine this is where the cold build's time goes, printed family by family, instead
 * of inside a test's hook timeout.
 *
 *   node lib/test/cluster/build-binaries.js        # exit 0 when every family is built or cached
 */
import { CONTROL_PLANE, CONTROLLER_MANAGER, ensureFamily, KROUTE_PROBE, PULUMI, PULUMI_KUBERNETES, type GoBinaryFamily } from './binaries.js';
import { HELM } from './helm.js';

/** Every family a test asks for, in the order the suite first needs them. */
export const TEST_FAMILIES: readonly GoBinaryFamily[] = [CONTROL_PLANE, CONTROLLER_MANAGER, HELM, PULUMI, PULUMI_KUBERNETES, KROUTE_PROBE];

/** Builds (or finds) each family in turn; returns the seconds each took. */
export async function buildAll(log: (line: string) => void): Promise<Record<string, number>> {
  const took: Record<string, number> = {};
  for (const family of TEST_FAMILIES) {
    const started = Date.now();
    await ensureFamily(family, { log });
    took[family.name] = Math.round((Date.now() - started) / 100) / 10;
  }
  return took;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const log = (line: string): void => void process.stderr.write(`[test binaries] ${line}\n`);
  const started = Date.now();
  buildAll(log).then(
    (took) => log(`all ${TEST_FAMILIES.length} families ready in ${Math.round((Date.now() - started) / 1000)} s (${Object.entries(took).map(([n, s]) => `${n} ${s} s`).join(', ')})`),
    (e: unknown) => {
      log(`failed: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    },
  );
}
