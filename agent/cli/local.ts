/**
 * The node's own facts when `kroute plan` runs on the node (`--host local`): the same readers the agent uses
 * (host discovery, the kernel port's read, sysctl files), reads only: no `ip` process here gets a write.
 */
import { readFile } from 'node:fs/promises';
import type { AgentConfig } from '../../core/index.js';
import type { HostFacts } from '../../core/plan/index.js';
import { AGENT_SYSCTLS, planConfigOf } from '../../core/plan/index.js';
import { HostDiscovery } from '../host.js';
import { IprouteKernel } from '../kernel/iproute.js';
import type { KernelState } from '../kernel/state.js';
import { sysctlPath } from '../kernel/sysctl.js';

/** What the node holds now. */
export interface LocalFacts {
  readonly host: HostFacts;
  readonly kernel: KernelState;
  /** Current values of the sysctls the agent sets; a missing one could not be read. */
  readonly sysctls: Map<string, string>;
}

/** Reads this machine's host facts, kroute's routes and rules, and the sysctls (like the agent's first pass). */
export async function readLocal(config: AgentConfig, extra: { controlPlaneAddresses: readonly string[]; keepAddresses: readonly string[] }): Promise<LocalFacts> {
  const { ownership } = planConfigOf(config);
  const discovery = new HostDiscovery({ ownership, publicInterface: config.publicInterface, resolvConf: config.resolvConf });
  // read() only: apply() would start a writer.
  const kernel = new IprouteKernel({ ownership });
  const [host, state] = await Promise.all([discovery.discover(extra), kernel.read()]);
  const sysctls = new Map<string, string>();
  for (const s of AGENT_SYSCTLS) {
    const v = await readFile(sysctlPath(config.sysctlRoot, s.key), 'utf8').catch(() => undefined);
    if (v !== undefined) sysctls.set(s.key, v.trim());
  }
  return { host, kernel: state, sysctls };
}
