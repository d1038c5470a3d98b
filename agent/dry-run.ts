/**
 * The agent's `--dry-run`: the same observe → plan loop, every write replaced by a log line. The kernel port reads
 * the kernel and diffs as always, then logs the changes (`dry-run: would change the kernel`, in the shape of
 * `kroute plan -o json`) instead of starting `ip -batch`; sysctls are read, never written. For a node whose agent is
 * being rolled out: its log says what the real one will do there.
 */
import { readFile } from 'node:fs/promises';
import type { Ownership, Plan } from '../core/plan/index.js';
import { changesOf } from './cli/changes.js';
import { diffKernel, type DesiredKernel } from './kernel/diff.js';
import type { ApplyReport, KernelPort } from './kernel/port.js';
import type { KernelState } from './kernel/state.js';
import { sysctlPath, type SysctlResult } from './kernel/sysctl.js';
import type { Logger } from './log.js';

/** A kernel port that reads and diffs like `inner` but writes nothing: the changes it would make are logged. */
export class DryRunKernel implements KernelPort {
  private last = '';

  constructor(private readonly inner: KernelPort, private readonly ownership: Ownership, private readonly log: Logger) {}

  read(): Promise<KernelState> {
    return this.inner.read();
  }

  async apply(desired: DesiredKernel): Promise<ApplyReport> {
    const state = await this.inner.read();
    const d = diffKernel(state, desired, this.ownership.protocol);
    const { routes, rules } = changesOf(d.ops, state);
    const conflicts = d.conflicts.map((c) => ({ dst: c.route.dst, table: c.route.table, route: c.route.routeName, foreignProtocol: c.foreign.protocol }));
    const key = JSON.stringify({ routes, rules, conflicts });
    // Every pass logs at debug; a change in what would be done is news (info).
    const level = key === this.last ? 'debug' : 'info';
    this.last = key;
    this.log[level]('dry-run: would change the kernel', { routes, rules, conflicts, unchanged: d.unchanged });
    // Nothing was written: no results, and the foreign conflicts as the real port reports them.
    return { results: [], conflicts: d.conflicts, unchanged: d.unchanged, writes: 0 };
  }
}

/** Reads the sysctls the agent sets under `root` and logs those it would change; writes none. */
export class DryRunSysctls {
  private last = '';

  constructor(private readonly root: string, private readonly log: Logger) {}

  async apply(wanted: Plan['sysctls']): Promise<SysctlResult[]> {
    const out: SysctlResult[] = [];
    for (const s of wanted) {
      const path = sysctlPath(this.root, s.key);
      const before = await readFile(path, 'utf8').then((t) => t.trim(), (e: Error) => e);
      if (before instanceof Error) out.push({ key: s.key, value: s.value, changed: false, error: `${path}: ${before.message}` });
      else out.push({ key: s.key, value: s.value, before, changed: false });
    }
    const would = out.filter((r) => r.before !== undefined && r.before !== r.value).map((r) => ({ key: r.key, value: r.value, before: r.before }));
    const key = JSON.stringify(would);
    if (would.length && key !== this.last) this.log.info('dry-run: would set sysctls', { sysctls: would });
    this.last = key;
    return out;
  }
}
