/**
 * The route planner: Routes, node and host facts and gateway health in, the kernel state kroute wants out. Pure and
 * deterministic (the order of the input Routes does not matter), so it is tested without a kernel and planning twice
 * gives the same plan. See docs/agent.md for the reasons behind each rule.
 */
import { formatFieldError } from '../errors.js';
import { cidrContains, isLoopback, isUnspecified, parseCidr, parseIp, type IpFamily } from '../ip.js';
import { selectNode } from '../selector.js';
import { validateRoute, type NormalizedRoute } from '../validate.js';
import type {
  ForwardProbe,
  DesiredRoute,
  DesiredRule,
  DesiredSysctl,
  HostDefaultRoute,
  NextHop,
  Plan,
  PlanInput,
  PlanRouteInput,
  RouteOutcome,
} from './types.js';
import { MAIN_TABLE } from './types.js';

/** The two halves that replace a default route: more specific than /0, so the node's own default stays in place. */
export const OVERRIDE_HALVES: Readonly<Record<IpFamily, readonly [string, string]>> = {
  4: ['0.0.0.0/1', '128.0.0.0/1'],
  6: ['::/1', '8000::/1'],
};

/** The default destination of a family, as the planner writes it. */
export const DEFAULT_DST: Readonly<Record<IpFamily, string>> = { 4: '0.0.0.0/0', 6: '::/0' };

/**
 * Sysctls every node running kroute gets. Per network namespace; see NOTES-kernel.md and DigitalOcean's
 * routing-agent documentation (L4 hashing spreads flows over ECMP gateways; use_neigh skips a gateway whose
 * neighbour entry failed before the prober notices).
 */
export const AGENT_SYSCTLS: readonly DesiredSysctl[] = [
  { key: 'net.ipv4.fib_multipath_hash_policy', value: '1', reason: 'hash ECMP flows on the L4 5-tuple, as DOKS does' },
  { key: 'net.ipv6.fib_multipath_hash_policy', value: '1', reason: 'hash IPv6 ECMP flows on the L4 5-tuple' },
  { key: 'net.ipv4.fib_multipath_use_neigh', value: '1', reason: 'skip a next hop whose neighbour entry failed' },
];

/**
 * What kroute owns for forwarding probes: one table and one fwmark per probed gateway (in sorted gateway order),
 * and one rule priority, just before the symmetric-routing rule. The mark's high bits spell "kr", clear of the marks
 * kube-proxy (0x4000, 0x8000) and Cilium (0x0f00 range) use.
 */
export const FORWARD_PROBE = { tableBase: 13600, markBase: 0x6b720000, rulePriority: 15134 } as const;

/** The key under which two desired routes collide in the kernel. */
export function routeKey(r: Pick<DesiredRoute, 'table' | 'dst'>): string {
  return `${r.table} ${r.dst}`;
}

interface Claim {
  readonly route: DesiredRoute;
  readonly destination: string;
}

interface Selected {
  readonly input: PlanRouteInput;
  readonly route: NormalizedRoute;
  readonly claims: Claim[];
  readonly active: readonly string[];
  readonly reason: string;
  readonly notes: string[];
  overrideActive: boolean;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function outcome(input: PlanRouteInput, o: Omit<RouteOutcome, 'name' | 'generation' | 'deleting' | 'errors' | 'conflicts' | 'gateways' | 'activeGateways' | 'overrideActive'> & Partial<RouteOutcome>): RouteOutcome {
  return {
    name: input.name,
    deleting: input.deleting,
    ...(input.generation !== undefined ? { generation: input.generation } : {}),
    errors: [],
    conflicts: [],
    gateways: [],
    activeGateways: [],
    overrideActive: false,
    ...o,
  };
}

/** Plans one selected, valid Route: its claims on destinations, before conflicts are settled. */
function planRoute(input: PlanRouteInput, r: NormalizedRoute, p: PlanInput): Selected {
  const all = r.gateways.map((g) => g.text);
  const up = all.filter((g) => !p.gatewaysDown.has(g));
  const allDown = up.length === 0;
  const notes: string[] = [];
  let reason = 'Programmed';
  if (allDown) {
    reason = 'AllGatewaysDown';
    notes.push(`every gateway is down (${all.join(', ')})`);
  } else if (up.length < all.length) {
    reason = 'GatewaysDown';
    notes.push(`down: ${all.filter((g) => p.gatewaysDown.has(g)).join(', ')}`);
  }
  // A dead gateway leaves the set. When all are dead, a plain route keeps them all (as DOKS does): withdrawing it
  // would send private traffic out of the default route. An override follows its fail mode.
  const gateways = allDown ? all : up;
  const nexthops: NextHop[] = gateways.map((gateway) => ({ gateway }));
  const claims: Claim[] = [];
  let overrideActive = false;
  const rolledBack = p.overridesRolledBack?.has(input.name) ?? false;
  for (const d of r.destinations) {
    if (d.prefixLength !== 0) {
      claims.push({ destination: d.text, route: mk(r, d.text, 'route', nexthops, p) });
      continue;
    }
    if (rolledBack) {
      reason = 'OverrideRolledBack';
      notes.push(`the override of ${d.text} was rolled back: the API server did not answer after it was applied`);
      continue;
    }
    if (allDown && p.config.overrideFailMode === 'open') {
      reason = 'OverrideWithdrawn';
      notes.push(`override of ${d.text} withdrawn (fail-open): traffic leaves by the node's own default route`);
      continue;
    }
    overrideActive = true;
    for (const half of OVERRIDE_HALVES[r.family]) claims.push({ destination: d.text, route: mk(r, half, 'override', nexthops, p) });
  }
  return { input, route: r, claims, active: gateways, reason, notes, overrideActive };
}

function mk(r: NormalizedRoute, dst: string, purpose: 'route' | 'override', nexthops: readonly NextHop[], p: PlanInput): DesiredRoute {
  return { family: r.family, dst, table: MAIN_TABLE, protocol: p.config.routeProtocol, nexthops, purpose, routeName: r.name };
}

function usable(text: string, family: IpFamily): boolean {
  const ip = parseIp(text);
  return ip.ok && ip.value.family === family && !isLoopback(ip.value) && !isUnspecified(ip.value);
}

function hostPrefix(text: string, family: IpFamily): string {
  const ip = parseIp(text);
  const canonical = ip.ok ? ip.value.text : text;
  return `${canonical}/${family === 4 ? 32 : 128}`;
}

/** True when `text` lies inside one of `prefixes`. */
function inside(text: string, prefixes: readonly string[]): boolean {
  const ip = parseIp(text);
  if (!ip.ok) return false;
  return prefixes.some((c) => {
    const cidr = parseCidr(c);
    return cidr.ok && cidrContains(cidr.value, ip.value);
  });
}

function keepRoutes(p: PlanInput, family: IpFamily, taken: Set<string>, specific: readonly string[], problems: string[]): DesiredRoute[] {
  const original: HostDefaultRoute | undefined = family === 4 ? p.host.defaultV4 : p.host.defaultV6;
  // On-link addresses never use the default route, and an address a Route sends somewhere specific stays there.
  const targets = [...new Set([...p.host.controlPlaneAddresses, ...p.host.dnsServers, ...p.host.keepAddresses])]
    .filter((a) => usable(a, family) && !inside(a, p.host.connected ?? []) && !inside(a, specific));
  if (targets.length === 0) return [];
  if (!original) {
    problems.push(`IPv${family} default route overridden but the node has no IPv${family} default route of its own: ${targets.join(', ')} cannot be kept on it`);
    return [];
  }
  const hop: NextHop = original.gateway ? { gateway: original.gateway, dev: original.dev } : { dev: original.dev };
  const out: DesiredRoute[] = [];
  for (const t of targets) {
    const route: DesiredRoute = {
      family, dst: hostPrefix(t, family), table: MAIN_TABLE, protocol: p.config.routeProtocol, nexthops: [hop], purpose: 'keep', routeName: '',
    };
    const key = routeKey(route);
    // A Route that asks for this exact prefix wins: the user said where it goes.
    if (taken.has(key)) continue;
    taken.add(key);
    out.push(route);
  }
  return out;
}

function symmetric(p: PlanInput): { routes: DesiredRoute[]; rules: DesiredRule[] } {
  const pub = p.host.publicInterface;
  if (!p.config.symmetricRouting || !pub) return { routes: [], rules: [] };
  const routes: DesiredRoute[] = [];
  const rules: DesiredRule[] = [];
  for (const family of [4, 6] as const) {
    const gateway = family === 4 ? pub.gatewayV4 : pub.gatewayV6;
    const addresses = pub.addresses.filter((a) => usable(a, family));
    if (!gateway || addresses.length === 0) continue;
    routes.push({
      family, dst: DEFAULT_DST[family], table: p.config.symmetricTable, protocol: p.config.routeProtocol,
      nexthops: [{ gateway, dev: pub.name }], purpose: 'symmetric', routeName: '',
    });
    for (const a of [...new Set(addresses.map((x) => hostPrefix(x, family)))].sort()) {
      rules.push({ family, priority: p.config.symmetricRulePriority, src: a, table: p.config.symmetricTable, protocol: p.config.routeProtocol });
    }
  }
  return { routes, rules };
}

function forwardProbes(p: PlanInput, gateways: readonly string[]): { routes: DesiredRoute[]; rules: DesiredRule[]; probes: ForwardProbe[] } {
  const target = p.config.forwardProbeTarget ? parseIp(p.config.forwardProbeTarget) : undefined;
  if (!target?.ok) return { routes: [], rules: [], probes: [] };
  const family = target.value.family;
  const routes: DesiredRoute[] = [];
  const rules: DesiredRule[] = [];
  const probes: ForwardProbe[] = [];
  gateways.forEach((gateway, i) => {
    if (!usable(gateway, family)) return;
    const table = FORWARD_PROBE.tableBase + i;
    const mark = FORWARD_PROBE.markBase + i;
    routes.push({ family, dst: hostPrefix(target.value.text, family), table, protocol: p.config.routeProtocol, nexthops: [{ gateway }], purpose: 'probe', routeName: '' });
    rules.push({ family, priority: FORWARD_PROBE.rulePriority, src: 'all', fwmark: mark, table, protocol: p.config.routeProtocol });
    probes.push({ gateway, target: target.value.text, mark, table });
  });
  return { routes, rules, probes };
}

function compareRoutes(a: DesiredRoute, b: DesiredRoute): number {
  const rank = (r: DesiredRoute) => (r.purpose === 'keep' ? 0 : 1);
  return rank(a) - rank(b) || a.table - b.table || a.family - b.family || (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0);
}

/** Plans the kernel state for this node. Invalid Routes become outcomes and never block valid ones. */
export function plan(p: PlanInput): Plan {
  const outcomes: RouteOutcome[] = [];
  const selected: Selected[] = [];
  const probe = new Set<string>();
  const seenNames = new Set<string>();
  for (const input of [...p.routes].sort(byName)) {
    if (seenNames.has(input.name)) continue;
    seenNames.add(input.name);
    if (input.deleting) {
      outcomes.push(outcome(input, { state: 'Removing', reason: 'Deleting', message: 'the Route is being deleted: its routes are removed from this node' }));
      continue;
    }
    const v = input.validated ?? validateRoute(input.object);
    if (!v.ok) {
      outcomes.push(outcome(input, { state: 'Invalid', reason: 'InvalidRoute', message: v.errors.map(formatFieldError).join('; '), errors: v.errors }));
      continue;
    }
    const sel = selectNode(v.value.nodeSelector, p.node);
    if (!sel.selected) {
      outcomes.push(outcome(input, { state: 'NotSelected', reason: 'NodeNotSelected', message: sel.reason }));
      continue;
    }
    v.value.gateways.forEach((g) => probe.add(g.text));
    selected.push(planRoute(input, { ...v.value, name: input.name }, p));
  }

  // Two Routes claiming the same kernel route: the first by name wins, every time, and the other one is told.
  const owner = new Map<string, string>();
  const routes: DesiredRoute[] = [];
  for (const s of selected) {
    const conflicts = new Set<string>();
    let kept = 0;
    for (const c of s.claims) {
      const key = routeKey(c.route);
      const holder = owner.get(key);
      if (holder !== undefined) {
        conflicts.add(`${c.route.dst} (held by Route ${holder})`);
        continue;
      }
      owner.set(key, s.input.name);
      routes.push(c.route);
      kept++;
    }
    const all = s.route.gateways.map((g) => g.text);
    const overrideActive = s.overrideActive && routes.some((r) => r.routeName === s.input.name && r.purpose === 'override');
    const notes = [...s.notes];
    if (conflicts.size) notes.push(`destinations held by another Route: ${[...conflicts].join(', ')}`);
    const failed = kept === 0;
    const reason = failed && conflicts.size ? 'DestinationConflict' : conflicts.size && s.reason === 'Programmed' ? 'PartialConflict' : s.reason;
    outcomes.push(outcome(s.input, {
      state: failed ? 'Failed' : 'Applied',
      reason,
      message: notes.length ? notes.join('; ') : `programmed via ${s.active.join(', ')}`,
      gateways: all,
      activeGateways: failed ? [] : s.active,
      overrideActive,
      conflicts: [...conflicts],
    }));
  }

  const problems: string[] = [];
  const taken = new Set(owner.keys());
  const keeps: DesiredRoute[] = [];
  for (const family of [4, 6] as const) {
    if (!routes.some((r) => r.purpose === 'override' && r.family === family)) continue;
    const specific = routes.filter((r) => r.purpose === 'route' && r.family === family).map((r) => r.dst);
    keeps.push(...keepRoutes(p, family, taken, specific, problems));
  }
  const sym = symmetric(p);
  const fwd = forwardProbes(p, [...probe].sort());
  return {
    routes: [...keeps, ...routes, ...sym.routes, ...fwd.routes].sort(compareRoutes),
    rules: [...sym.rules, ...fwd.rules],
    forwardProbes: fwd.probes,
    sysctls: AGENT_SYSCTLS,
    outcomes: outcomes.sort(byName),
    probeGateways: [...probe].sort(),
    problems,
  };
}
