/**
 * Which capability the agent lacks, and the evidence: each capability the agent needs is tried with the tool the
 * agent uses for it, in a container started with exactly the derived flags (same capabilities, seccomp, user, read-only
 * root, node namespace) but that tool as its entry point; and the agent's own log is searched for the same refusals.
 */
import type { Podman } from './podman.js';
import type { DerivedRun } from './run-flags.js';

/** A capability the agent needs, what for, and how its absence shows. */
export interface CapabilityNeed {
  readonly capability: string;
  readonly usedFor: string;
  /** Entry point and arguments of a probe that succeeds only with the capability; harmless and idempotent. */
  readonly probe: readonly string[];
  /** What a refusal looks like in the probe's output or the agent's log. */
  readonly refusal: RegExp;
}

/** What the agent does with each capability the DaemonSet adds. */
export const AGENT_NEEDS: readonly CapabilityNeed[] = [
  {
    capability: 'NET_ADMIN',
    usedFor: 'programming routes, rules and sysctls (netlink, /host/proc/sys/net)',
    // Setting loopback up again changes nothing, but netlink still checks CAP_NET_ADMIN.
    probe: ['/bin/ip', 'link', 'set', 'dev', 'lo', 'up'],
    refusal: /RTNETLINK answers: Operation not permitted|EPERM.*(route|rule|netlink|sysctl)|EACCES.*proc\/sys/i,
  },
  {
    capability: 'NET_RAW',
    usedFor: 'probing gateways with fping (a raw ICMP socket)',
    probe: ['/usr/bin/fping', '-c', '1', '-t', '1000', '127.0.0.1'],
    refusal: /fping: can't create socket|no raw ICMP socket|ping: socket: Operation not permitted|ping.*(EPERM|Operation not permitted)/i,
  },
];

/** One missing capability and what showed it. */
export interface MissingCapability {
  readonly capability: string;
  readonly usedFor: string;
  readonly evidence: string;
}

/** Runs each need's probe under the derived flags; returns the capabilities whose probe was refused. */
export async function missingCapabilities(podman: Podman, run: DerivedRun, agentLog = ''): Promise<MissingCapability[]> {
  const out: MissingCapability[] = [];
  for (const need of AGENT_NEEDS) {
    const [entry, ...args] = need.probe;
    const r = await podman.run([...run.options, '--entrypoint', entry, run.image, ...args], { timeoutMs: 60_000 });
    const logLine = agentLog.split('\n').find((l) => need.refusal.test(l));
    if (r.code !== 0 || logLine !== undefined) {
      const probeText = `${need.probe.join(' ')} exited ${r.code}: ${(r.stderr + r.stdout).trim().split('\n')[0] ?? ''}`;
      out.push({ capability: need.capability, usedFor: need.usedFor, evidence: logLine ? `agent log: ${logLine.trim()}; ${probeText}` : probeText });
    }
  }
  return out;
}

/** A sentence naming each missing capability, for assertion messages. */
export function describeMissing(missing: readonly MissingCapability[], granted: readonly string[]): string {
  if (missing.length === 0) return `no capability missing (the DaemonSet adds ${granted.join(', ')})`;
  return missing
    .map((m) => `the agent lacks ${m.capability}, needed for ${m.usedFor}; the DaemonSet adds only [${granted.join(', ')}]. Evidence: ${m.evidence}`)
    .join('\n');
}
