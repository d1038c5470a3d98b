/**
 * What kroute owns in the kernel, as one value: the rtm_protocol on every route and rule it writes, and the tables,
 * rule priorities and fwmarks its own routing uses (symmetric routing, forwarding probes). The planner writes these
 * numbers and the kernel adapter tells kroute's routes and rules from everybody else's by them, so both read the
 * same value, defaulted here and nowhere else; the agent's flags map onto it in {@link planConfigOf}.
 */
import { AGENT_OPTIONS, type AgentConfig } from '../options.js';
import type { PlanConfig } from './types.js';

/** kroute's part of the kernel's numbering. */
export interface Ownership {
  /** rtm_protocol of every route and rule kroute writes: what carries it is kroute's, everything else is foreign. */
  readonly protocol: number;
  /** Symmetric routing: replies from the public interface's addresses look up `table`, by a rule at `rulePriority`. */
  readonly symmetric: { readonly table: number; readonly rulePriority: number };
  /**
   * Forwarding probes: the i-th probed gateway (in sorted order) gets table `tableBase + i` and fwmark `markBase + i`,
   * steered by one rule each at `rulePriority`, just before the symmetric-routing rule. The mark's high bits spell
   * "kr", clear of the marks kube-proxy (0x4000, 0x8000) and Cilium (0x0f00 range) use.
   */
  readonly forwardProbe: { readonly tableBase: number; readonly markBase: number; readonly rulePriority: number };
}

/** The defaults: protocol 145, table 135 at priority 15135 (DOKS's eth0table), probe tables from 13600. */
export const DEFAULT_OWNERSHIP: Ownership = {
  protocol: AGENT_OPTIONS.routeProtocol.default,
  symmetric: { table: AGENT_OPTIONS.symmetricTable.default, rulePriority: AGENT_OPTIONS.symmetricRulePriority.default },
  forwardProbe: { tableBase: 13600, markBase: 0x6b720000, rulePriority: 15134 },
};

/** The ownership the agent's flags ask for (`--route-protocol`, `--symmetric-table`, `--symmetric-rule-priority`). */
export function ownershipOf(flags: Partial<Pick<AgentConfig, 'routeProtocol' | 'symmetricTable' | 'symmetricRulePriority'>>): Ownership {
  const d = DEFAULT_OWNERSHIP;
  return {
    protocol: flags.routeProtocol ?? d.protocol,
    symmetric: { table: flags.symmetricTable ?? d.symmetric.table, rulePriority: flags.symmetricRulePriority ?? d.symmetric.rulePriority },
    forwardProbe: d.forwardProbe,
  };
}

/** The planner's configuration from the agent's: the part it reads, with ownership as one value. */
export function planConfigOf(config: AgentConfig): PlanConfig {
  return {
    ownership: ownershipOf(config),
    symmetricRouting: config.symmetricRouting,
    overrideFailMode: config.overrideFailMode,
    ...(config.forwardProbeTarget ? { forwardProbeTarget: config.forwardProbeTarget } : {}),
    probeMaxGateways: config.probeMaxGateways,
  };
}
