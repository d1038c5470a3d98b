/**
 * The kernel port: three idempotent operations (update one, delete one, prune what is not desired), as Cilium's
 * statedb reconciler asks of its targets, plus `apply`, which does all three for a whole plan in one write.
 */
import type { DesiredRoute, DesiredRule } from '../../core/plan/index.js';
import type { DesiredKernel, ForeignConflict, KernelOp } from './diff.js';
import type { KernelRoute, KernelState } from './state.js';

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
  /** Puts one route or rule in place (replace: atomic for a changed gateway set). */
  update(target: DesiredRoute | DesiredRule): Promise<KernelOpResult>;
  /** Removes one route kroute owns. */
  delete(route: KernelRoute): Promise<KernelOpResult>;
  /** Removes every owned route and rule that `desired` does not list. */
  prune(desired: DesiredKernel): Promise<ApplyReport>;
  /** Makes kroute's part of the kernel equal `desired`, writing only the difference in one batch. */
  apply(desired: DesiredKernel): Promise<ApplyReport>;
  /** Forgets any cached view of the kernel, so the next apply reads it (someone else changed it; periodic resync). */
  invalidate?(): void;
  /** Releases long-lived writers; lines already sent are finished, the kernel keeps what it has. */
  close?(): Promise<void>;
}
