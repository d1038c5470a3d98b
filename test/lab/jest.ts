/**
 * The lab in a Jest file, in one line: `const lab = useLab(spec)` builds it before the file's tests and destroys it
 * after them (agents and control planes first), and when a test or hook of the file failed, prints the topology it
 * built (namespaces, stand-ins, addresses, routes, rules) beside the failure. What it returns is usable in tests and
 * in later hooks; touching it before the lab is built throws, naming the lab.
 */
import { afterAll, afterEach, beforeAll } from '@jest/globals';
import { FAILURES_GLOBAL } from './jest-environment.js';
import { buildLab, type Lab } from './lab.js';
import type { LabSpec } from './spec.js';

/** How long building a lab may take in beforeAll. */
export const LAB_SETUP_MS = 60_000;

/** A stand-in object for a value a beforeAll will produce: property reads go to the value once it exists. */
export function lazy<T extends object>(what: string, get: () => T | undefined): T {
  return new Proxy({} as T, {
    get(_, key) {
      const v = get();
      if (v === undefined) throw new Error(`${what} is not built yet (or failed to build): use it inside tests and hooks`);
      const x = Reflect.get(v, key, v) as unknown;
      return typeof x === 'function' ? (x as (...a: unknown[]) => unknown).bind(v) : x;
    },
    has: (_, key) => {
      const v = get();
      return v !== undefined && Reflect.has(v, key);
    },
  });
}

function failures(): number {
  return (globalThis as unknown as Record<string, number | undefined>)[FAILURES_GLOBAL] ?? 0;
}

/**
 * Registers the hooks that build `make()`'s lab before the file's tests and destroy it after them; prints the
 * topology when a test failed. `make` builds the lab (default: `buildLab(spec)`) and may wrap it.
 */
export function useBuilt<T extends object>(what: string, make: () => Promise<T>, lab: (t: T) => Lab, timeoutMs = LAB_SETUP_MS): T {
  let built: T | undefined;
  let printed = failures();
  const print = async () => {
    if (!built || failures() === printed) return;
    printed = failures();
    process.stdout.write(`\n${await lab(built).describe()}\n`);
  };
  beforeAll(async () => {
    built = await make();
  }, timeoutMs);
  afterEach(print);
  afterAll(async () => {
    await print();
    await (built ? lab(built).destroy() : undefined);
  }, 60_000);
  return lazy(what, () => built);
}

/** Builds `spec` for the file's tests (see the file comment). */
export function useLab(spec: LabSpec | (() => LabSpec), timeoutMs = LAB_SETUP_MS): Lab {
  const s = typeof spec === 'function' ? spec : () => spec;
  return useBuilt(`the lab`, () => buildLab(s()), (l) => l, timeoutMs);
}
