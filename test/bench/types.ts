/** What a benchmark module reports: one figure per result, with its unit and, when there is one, its goal. */
export interface BenchResult {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The goal as text, e.g. "< 80 MB" or "ratio <= 2". */
  readonly goal?: string;
  /** Whether the goal is met; absent when there is no goal. */
  readonly met?: boolean;
  /** How it was measured (runs, settings). */
  readonly note?: string;
}

/** A benchmark module: `run()` does its own setup and teardown. */
export interface BenchModule {
  /** Short name, e.g. "program". */
  readonly name: string;
  run(): Promise<BenchResult[]>;
}

import { readFileSync } from 'node:fs';
import { quantityMiB, resolveAgentManifestOptions } from '../../core/index.js';

/** Peak resident memory of a process so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

/** The DaemonSet's default memory limit (core/agent-manifests.ts), in MiB. */
export function memoryLimitMiB(): number {
  const r = resolveAgentManifestOptions();
  if (!r.ok) throw new Error('the default agent options do not resolve');
  return quantityMiB(r.value.resources.memoryLimit);
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Rounds for display and JSON (3 significant digits at most below 100, integers above). */
export function round(x: number): number {
  if (!Number.isFinite(x)) return x;
  return Math.abs(x) >= 100 ? Math.round(x) : Number(x.toPrecision(3));
}
