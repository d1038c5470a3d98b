/**
 * Sysctls under a configurable root: /proc/sys by default, /host/proc/sys in the DaemonSet (an unprivileged
 * container sees /proc/sys read-only; the host's /proc/sys/net is mounted writable there). Writes only what differs.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { DesiredSysctl } from '../../core/plan/index.js';

/** How one sysctl went. */
export interface SysctlResult {
  readonly key: string;
  readonly value: string;
  /** The value before, when it could be read. */
  readonly before?: string;
  readonly changed: boolean;
  readonly error?: string;
}

/** The file of a dotted sysctl name under `root`. */
export function sysctlPath(root: string, key: string): string {
  return join(root, ...key.split('.'));
}

/** Reads and writes sysctls under one root. */
export class SysctlWriter {
  constructor(private readonly root: string) {}

  /** Sets each sysctl that differs; one failure does not stop the others. */
  async apply(wanted: readonly DesiredSysctl[]): Promise<SysctlResult[]> {
    const out: SysctlResult[] = [];
    for (const s of wanted) {
      const path = sysctlPath(this.root, s.key);
      let before: string | undefined;
      try {
        before = (await readFile(path, 'utf8')).trim();
        if (before === s.value) {
          out.push({ key: s.key, value: s.value, before, changed: false });
          continue;
        }
        await writeFile(path, s.value + '\n');
        out.push({ key: s.key, value: s.value, before, changed: true });
      } catch (e) {
        out.push({ key: s.key, value: s.value, ...(before !== undefined ? { before } : {}), changed: false, error: `${path}: ${(e as Error).message}` });
      }
    }
    return out;
  }
}
