/**
 * The builder: makes a `LabSpec` real in network namespaces, in a few `ip -batch` processes, and tears it down,
 * also when building fails halfway. Everything it touches is a namespace it made (see ./netns.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, Netns, NetnsLab, run } from './netns.js';
import { vethPairs, type LabSpec, type NamespaceSpec } from './spec.js';
import { countRuleset, readCounters, resetCounters, startEcho, startService, type FlowCounters } from './traffic.js';

/** Tools every lab needs (the Debian packages are in .ci/debian-packages). */
export const LAB_TOOLS = ['ip', 'nft', 'ping', 'sysctl'] as const;

/** Something the lab stops before its namespaces go: an agent, a control plane. */
export interface Stoppable {
  stop(): Promise<unknown>;
}

function natRuleset(n: NonNullable<NamespaceSpec['nat']>): string {
  const lines = [
    ...(n.masquerade ? [`oifname "${n.masquerade}" masquerade`] : []),
    ...Object.entries(n.snat ?? {}).map(([from, to]) => `ip saddr ${from} snat ip to ${to}`),
  ];
  return `table inet ${n.table ?? 'kroute_nat'} {\n  chain postrouting {\n    type nat hook postrouting priority srcnat;\n    ${lines.join('\n    ')}\n  }\n}\n`;
}

function addrLine(ifName: string, cidr: string): string {
  return cidr.includes(':') ? `addr add ${cidr} dev ${ifName} nodad` : `addr add ${cidr} dev ${ifName}`;
}

/** A built lab. */
export class Lab {
  /** Long-running helpers; killed by destroy() after the stoppables stopped. */
  readonly processes: ChildProcess[] = [];
  private readonly stoppables: Stoppable[] = [];
  private readonly byRole = new Map<string, Netns>();

  constructor(
    readonly spec: LabSpec,
    readonly netns: NetnsLab,
    /** A scratch folder removed by destroy() (route files, kubeconfigs). */
    readonly dir: string,
  ) {
    for (const ns of netns.all) this.byRole.set(ns.name.slice(netns.prefix.length + 1), ns);
  }

  /** The per-run prefix of every namespace name. */
  get prefix(): string {
    return this.netns.prefix;
  }

  /** A resolv.conf listing `spec.resolvConf` (for the agent's --resolv-conf). */
  get resolvConf(): string {
    return join(this.dir, 'resolv.conf');
  }

  /** The namespace of `role`; throws for a role the spec does not have. */
  ns(role: string): Netns {
    const ns = this.byRole.get(role);
    if (!ns) throw new Error(`lab ${this.spec.name} has no namespace ${JSON.stringify(role)} (${[...this.byRole.keys()].join(', ')})`);
    return ns;
  }

  /** Throws unless `ns` is one of this lab's namespaces, and not the machine's own. */
  assertOwned(ns: Netns): void {
    this.netns.assertOwned(ns);
  }

  /** Starts a process in `role`'s namespace, stopped by destroy(). */
  spawn(role: string, cmd: string, args: readonly string[]): ChildProcess {
    return this.track(this.ns(role).spawn(cmd, args));
  }

  /** Tracks a process so destroy() kills it. */
  track(p: ChildProcess): ChildProcess {
    this.processes.push(p);
    return p;
  }

  /** Registers something destroy() stops first, in reverse order (agents before the control plane they talk to). */
  onDestroy<T extends Stoppable>(s: T): T {
    this.stoppables.push(s);
    return s;
  }

  /** The flow counters of a namespace with `count` in its spec. */
  async counters(role: string): Promise<FlowCounters> {
    if (!this.spec.namespaces[role]?.count) throw new Error(`${role} counts nothing (no count in its spec)`);
    return readCounters(this.ns(role));
  }

  /** Zeroes every counter of the lab. */
  async resetCounters(): Promise<void> {
    await Promise.all(Object.entries(this.spec.namespaces).filter(([, s]) => s.count).map(([role]) => resetCounters(this.ns(role))));
  }

  /** The topology as built: the spec's namespaces, links and stand-ins, and each namespace's addresses, routes and rules. */
  async describe(): Promise<string> {
    const out = [`lab ${this.spec.name} (namespaces ${this.prefix}-*, folder ${this.dir})`];
    for (const [role, s] of Object.entries(this.spec.namespaces)) {
      const ns = this.byRole.get(role);
      out.push(`- ${role}${s.label ? `: ${s.label}` : ''}${s.standIn ? ` [STAND-IN for ${s.standIn}]` : ''}${ns ? '' : ' (not built)'}`);
      if (!ns) continue;
      const q = async (...args: string[]) => (await run('ip', ['-n', ns.name, ...args])).stdout.trim();
      const [addr, routes, rules] = await Promise.all([q('-br', 'addr'), q('route', 'show', 'table', 'all'), q('rule', 'show')]);
      const usual = /( table local |^fe80::\/64 |^(0|32766|32767):\s)/;
      for (const [what, text] of [['addr', addr], ['route', routes], ['rule', rules]] as const) {
        for (const line of text.split('\n').filter((l) => l && !usual.test(l))) out.push(`    ${what}: ${line}`);
      }
    }
    for (const v of vethPairs(this.spec)) out.push(`  link ${v.a.role}:${v.a.ifName} <-> ${v.b.role}:${v.b.ifName}${v.master ? ` (port of ${v.master})` : ''}`);
    return out.join('\n');
  }

  /** Stops what was registered, kills the helpers, removes the namespaces and the folder. Safe to call twice. */
  async destroy(): Promise<void> {
    for (const s of this.stoppables.splice(0).reverse()) {
      // Teardown goes on whatever one part says; what failed is said, and the namespaces still go.
      await s.stop().catch((e: unknown) => process.stderr.write(`[lab ${this.prefix}] stopping a part failed: ${(e as Error).message}\n`));
    }
    for (const p of this.processes.splice(0)) p.kill('SIGKILL');
    await this.netns.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Throws naming the missing tools and the Debian packages that bring them. */
export async function checkLabTools(tools: readonly string[] = LAB_TOOLS): Promise<void> {
  const missing: string[] = [];
  for (const t of tools) if (!(await hasCommand(t))) missing.push(t);
  if (missing.length > 0) throw new Error(`network-namespace tests need ${missing.join(', ')}: run bash .ci/install-packages (as root), which apt-gets .ci/debian-packages`);
}

/** Options of {@link buildLab}. */
export interface BuildLabOptions {
  /** Make the namespaces in this set (its prefix) instead of a new one. */
  readonly netns?: NetnsLab;
}

/** Builds `spec`. On failure, what was built is torn down before the error is thrown. */
export async function buildLab(spec: LabSpec, opts: BuildLabOptions = {}): Promise<Lab> {
  await checkLabTools();
  const veths = vethPairs(spec);
  const netns = opts.netns ?? new NetnsLab();
  const dir = mkdtempSync(join(tmpdir(), `${netns.prefix}-`));
  let lab: Lab | undefined;
  try {
    const roles = Object.keys(spec.namespaces);
    await netns.addMany(roles);
    lab = new Lab(spec, netns, dir);
    const built = lab;
    const each = (f: (role: string, s: NamespaceSpec, ns: Netns) => Promise<void>) =>
      Promise.all(Object.entries(spec.namespaces).map(([role, s]) => f(role, s, built.ns(role))));

    // No IPv6 duplicate address detection on anything made below (addresses already say nodad; this covers the
    // kernel's own link-local addresses, which stay tentative for a second or more on a loaded machine, so that the
    // first IPv6 flow failed its neighbour discovery now and then).
    await each(async (_, __, ns) => void (await ns.must('sysctl', ['-q', '-w', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'])));
    // Bridges, then the veth pairs (made in their first namespace, the peer placed in the second).
    await each((_, s, ns) => ns.ipBatch((s.bridges ?? []).flatMap((b) => [`link add name ${b} type bridge`, `link set dev ${b} up`])));
    await each((role, _, ns) => ns.ipBatch(veths.filter((v) => v.a.role === role).map((v) => `link add name ${v.a.ifName} type veth peer name ${v.b.ifName} netns ${built.ns(v.b.role).name}`)));
    // Links up, ports on their bridges, addresses, then routes.
    await each((role, s, ns) => ns.ipBatch([
      ...veths.flatMap((v) => [
        ...(v.a.role === role ? [`link set dev ${v.a.ifName} up`] : []),
        ...(v.b.role === role ? [`link set dev ${v.b.ifName} up`, ...(v.master ? [`link set dev ${v.b.ifName} master ${v.master}`] : [])] : []),
      ]),
      ...Object.entries(s.addresses ?? {}).flatMap(([ifName, cidrs]) => cidrs.map((c) => addrLine(ifName, c))),
      ...(s.routes ?? []).map((r) => `route add ${r}`),
      ...(s.rules ?? []).map((r) => `rule add ${r}`),
    ]));
    // Sysctls in one process a namespace; nftables (NAT, counters, extra) in one ruleset.
    await each(async (_, s, ns) => {
      const sysctls = { ...(s.forward ? { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1' } : {}), ...s.sysctls };
      if (Object.keys(sysctls).length > 0) await ns.must('sysctl', ['-q', '-w', ...Object.entries(sysctls).map(([k, v]) => `${k}=${v}`)]);
      const nft = [s.count ? countRuleset(s.count.iif, s.count.watch) : '', s.nat ? natRuleset(s.nat) : '', s.nft ?? ''].join('');
      if (nft) await ns.must('nft', ['-f', '-'], { input: nft });
    });
    writeFileSync(lab.resolvConf, (spec.resolvConf ?? []).map((a) => `nameserver ${a}\n`).join(''));
    await each(async (_, s, ns) => {
      for (const svc of s.services ?? []) {
        const p = svc.echo
          ? await startEcho(ns, svc.echo.addresses, svc.echo.port, { tcpOnly: svc.echo.tcpOnly })
          : await startService(ns, svc.name, svc.script ?? '', svc.args);
        built.track(p);
      }
    });
    return lab;
  } catch (e) {
    if (lab) await lab.destroy();
    else {
      await netns.cleanup();
      rmSync(dir, { recursive: true, force: true });
    }
    throw e;
  }
}
