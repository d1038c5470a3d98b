/**
 * The kernel port, as the agent uses it: read kroute's part of the kernel, and apply a whole plan (replace what
 * differs, add what is missing, prune what is no longer desired, in one write). Idempotent: applying the same plan
 * twice writes nothing the second time.
 */
import type { DesiredKernel, ForeignConflict, KernelOp } from './diff.js';
import type { KernelState } from './state.js';

/** How one operation went. */
export interface KernelOpResult {
  readonly op: KernelOp;
  /** Undefined on success; the kernel's words otherwise. */
  readonly error?: string;
}

/** What one apply did. */
export interface ApplyReport {
  readonly results: readonly KernelOpResult[];
  readonly conflicts: readonly ForeignConflict[];
  /** Desired objects found already in place. */
  readonly unchanged: number;
  /** Number of batches written (0 when nothing changed). */
  readonly writes: number;
}

/** The kernel, as the reconciler sees it. */
export interface KernelPort {
  /** Reads kroute's routes and rules, and other routes that could collide with them. */
  read(): Promise<KernelState>;
  /**
   * Makes kroute's part of the kernel equal `desired`, writing only the difference in one batch (a changed gateway
   * set is one atomic replace; `apply({ routes: [], rules: [] })` removes everything kroute owns).
   */
  apply(desired: DesiredKernel): Promise<ApplyReport>;
  /** Forgets any cached view of the kernel, so the next apply reads it (someone else changed it; periodic resync). */
  invalidate?(): void;
  /** True when an `ip monitor` line reports a change this port made itself: no reason to read the kernel again. */
  ownChange?(monitorLine: string): boolean;
  /** Releases long-lived writers; lines already sent are finished, the kernel keeps what it has. */
  close?(): Promise<void>;
}
