/**
 * The route planner: Routes, node and host facts and gateway health in, the kernel state kroute wants out. Pure and
 * deterministic (the order of the input Routes does not matter), so it is tested without a kernel and planning twice
 * gives the same plan. See docs/agent.md for the reasons behind each rule.
 */
import { formatFieldError } from '../errors.js';
import { cidrContains, coversWholeFamily, isLoopback, isUnspecified, parseCidr, parseIp, type Cidr, type IpFamily } from '../ip.js';
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
import { MAIN_TABLE, type RefusedDestination } from './types.js';
import { DEFAULT_OWNERSHIP } from './ownership.js';
import { destinationVerdict, gatewayProblem, lifelines, type Lifelines, type ProtectedAddress } from './protect.js';

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

/** The default tables, fwmarks and rule priority of forwarding probes (`DEFAULT_OWNERSHIP.forwardProbe`). */
export const FORWARD_PROBE = DEFAULT_OWNERSHIP.forwardProbe;

/** Reasons of a Route in the kernel with a degraded gateway set: its state is `Degraded`, not `Applied`. */
const DEGRADED_REASONS: ReadonlySet<string> = new Set(['GatewaysDown', 'AllGatewaysDown', 'OverrideWithdrawn']);

/** The key under which two desired routes collide in the kernel. */
export function routeKey(r: Pick<DesiredRoute, 'table' | 'dst'>): string {
  return `${r.table} ${r.dst}`;
}

interface Claim {
  readonly route: DesiredRoute;
  readonly destination: string;
  /** Kept protected addresses (off-link) inside the claimed prefix: what it would take away (keep-routes). */
  readonly captures: readonly ProtectedAddress[];
}

interface Selected {
  readonly input: PlanRouteInput;
  readonly route: NormalizedRoute;
  readonly claims: Claim[];
  readonly active: readonly string[];
  readonly reason: string;
  readonly notes: string[];
  /** Destinations refused on this node (protected addresses, connected subnets), with why. */
  readonly refused: readonly RefusedDestination[];
  /** Gateways that cannot be next hops here (not on a connected network), with why. */
  readonly badGateways: readonly string[];
  /** The Route's gateways that can be next hops here (on a connected network), down ones included. */
  readonly usable: readonly string[];
  overrideActive: boolean;
  /** Where a memo keeps what was decided for this Route (absent without a memo). */
  readonly memo?: MemoEntry;
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function outcome(input: PlanRouteInput, o: Omit<RouteOutcome, 'name' | 'generation' | 'deleting' | 'errors' | 'conflicts' | 'refused' | 'kept' | 'gateways' | 'activeGateways' | 'overrideActive'> & Partial<RouteOutcome>): RouteOutcome {
  return {
    name: input.name,
    deleting: input.deleting,
    ...(input.generation !== undefined ? { generation: input.generation } : {}),
    errors: [],
    conflicts: [],
    refused: [],
    kept: [],
    gateways: [],
    activeGateways: [],
    overrideActive: false,
    ...o,
  };
}

/** Plans one selected, valid Route: its claims on destinations, before conflicts are settled. */
function planRoute(input: PlanRouteInput, r: NormalizedRoute, p: PlanInput, l: Lifelines): Selected {
  const notes: string[] = [];
  // A gateway off every connected network cannot be a next hop: refused here, so the Route never takes a slot it
  // cannot fill (the kernel would refuse the write and the slot's previous owner's route would linger).
  const badGateways: string[] = [];
  const all: string[] = [];
  for (const g of r.gateways) {
    const why = gatewayProblem(l, g);
    if (why) badGateways.push(why);
    else all.push(g.text);
  }
  const refused: RefusedDestination[] = [];
  const dests: Cidr[] = [];
  const inside = new Map<Cidr, readonly ProtectedAddress[]>();
  for (const d of r.destinations) {
    const v = destinationVerdict(l, d);
    if (v.refused) refused.push({ destination: d.text, reason: v.reason, kind: v.kind });
    else {
      dests.push(d);
      inside.set(d, v.protectedInside);
    }
  }
  /** The protected addresses a claim on `dst` (the destination `d`, or a part of it) would take away. */
  const captures = (d: Cidr, dst: string): readonly ProtectedAddress[] => {
    const within = inside.get(d) ?? [];
    if (within.length === 0 || dst === d.text) return within;
    const part = parseCidr(dst);
    return part.ok ? within.filter((a) => cidrContains(part.value, a.address)) : [];
  };
  if (badGateways.length) notes.push(badGateways.join('; '));
  if (refused.length) notes.push(`refused on this node: ${refused.map((x) => x.reason).join('; ')}`);
  if (all.length === 0) {
    return { input, route: r, claims: [], active: [], reason: 'GatewayNotOnLink', notes, refused, badGateways, usable: all, overrideActive: false };
  }
  const up = all.filter((g) => !p.gatewaysDown.has(g));
  const allDown = up.length === 0;
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
  // Any set covering the whole family is an override (the /1 pair, /2 quarters, ...), not only a literal /0: all
  // its destinations get the override's protections, and are rolled back or withdrawn together.
  // A literal /0 is the override and the other destinations stay plain routes beside it; a set that covers the
  // family without one (the /1 pair, /2 quarters, ...) is an override as a whole.
  const literal = dests.filter((d) => d.prefixLength === 0);
  const overriding = literal.length ? literal : coversWholeFamily(dests, r.family) ? dests : [];
  for (const d of dests) if (!overriding.includes(d)) claims.push({ destination: d.text, route: mk(r, d.text, 'route', nexthops, p), captures: captures(d, d.text) });
  if (overriding.length === 0) {
    // a plain Route
  } else if (p.overridesRolledBack?.has(input.name) ?? false) {
    reason = 'OverrideRolledBack';
    notes.push(`the override of ${overriding.map((d) => d.text).join(', ')} was rolled back: the API server did not answer after it was applied`);
  } else if (allDown && p.config.overrideFailMode === 'open') {
    reason = 'OverrideWithdrawn';
    notes.push(`override of ${overriding.map((d) => d.text).join(', ')} withdrawn (fail-open): traffic leaves by the node's own default route`);
  } else {
    overrideActive = true;
    for (const d of overriding) {
      const dsts = d.prefixLength === 0 ? OVERRIDE_HALVES[r.family] : [d.text];
      for (const dst of dsts) claims.push({ destination: d.text, route: mk(r, dst, 'override', nexthops, p), captures: captures(d, dst) });
    }
  }
  if (dests.length === 0 && reason === 'Programmed') reason = 'ProtectedDestination';
  return { input, route: r, claims, active: gateways, reason, notes, refused, badGateways, usable: all, overrideActive };
}

function mk(r: NormalizedRoute, dst: string, purpose: 'route' | 'override', nexthops: readonly NextHop[], p: PlanInput): DesiredRoute {
  return { family: r.family, dst, table: MAIN_TABLE, protocol: p.config.ownership.protocol, nexthops, purpose, routeName: r.name };
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

/**
 * Keep-routes: every protected address that a planned kroute route would take away (an override, or a wider
 * destination containing it) stays on the node's own path as a /32 (/128). No Route can hold that prefix (a Route
 * asking for exactly a protected address is refused), so the keep-route always wins.
 */
function keepRoutes(p: PlanInput, family: IpFamily, captured: readonly ProtectedAddress[], taken: Set<string>, problems: string[]): DesiredRoute[] {
  const targets = captured.filter((a) => a.address.family === family && usable(a.address.text, family));
  if (targets.length === 0) return [];
  const original: HostDefaultRoute | undefined = family === 4 ? p.host.defaultV4 : p.host.defaultV6;
  if (!original) {
    problems.push(`IPv${family} routes would take protected addresses away but the node has no IPv${family} default route of its own to keep them on: ${targets.map((t) => t.address.text).join(', ')}`);
    return [];
  }
  const hop: NextHop = original.gateway ? { gateway: original.gateway, dev: original.dev } : { dev: original.dev };
  const out: DesiredRoute[] = [];
  for (const t of targets) {
    const route: DesiredRoute = {
      family, dst: hostPrefix(t.address.text, family), table: MAIN_TABLE, protocol: p.config.ownership.protocol, nexthops: [hop], purpose: 'keep', routeName: '',
    };
    const key = routeKey(route);
    if (taken.has(key)) continue;
    taken.add(key);
    out.push(route);
  }
  return out;
}

function symmetric(p: PlanInput): { routes: DesiredRoute[]; rules: DesiredRule[] } {
  const pub = p.host.publicInterface;
  if (!p.config.symmetricRouting || !pub) return { routes: [], rules: [] };
  const { protocol, symmetric: own } = p.config.ownership;
  const routes: DesiredRoute[] = [];
  const rules: DesiredRule[] = [];
  for (const family of [4, 6] as const) {
    const gateway = family === 4 ? pub.gatewayV4 : pub.gatewayV6;
    const addresses = pub.addresses.filter((a) => usable(a, family));
    if (!gateway || addresses.length === 0) continue;
    routes.push({
      family, dst: DEFAULT_DST[family], table: own.table, protocol,
      nexthops: [{ gateway, dev: pub.name }], purpose: 'symmetric', routeName: '',
    });
    for (const a of [...new Set(addresses.map((x) => hostPrefix(x, family)))].sort()) {
      rules.push({ family, priority: own.rulePriority, src: a, table: own.table, protocol });
    }
  }
  return { routes, rules };
}

function forwardProbes(p: PlanInput, gateways: readonly string[]): { routes: DesiredRoute[]; rules: DesiredRule[]; probes: ForwardProbe[] } {
  const target = p.config.forwardProbeTarget ? parseIp(p.config.forwardProbeTarget) : undefined;
  if (!target?.ok) return { routes: [], rules: [], probes: [] };
  const family = target.value.family;
  const { protocol, forwardProbe: own } = p.config.ownership;
  const routes: DesiredRoute[] = [];
  const rules: DesiredRule[] = [];
  const probes: ForwardProbe[] = [];
  gateways.forEach((gateway, i) => {
    if (!usable(gateway, family)) return;
    const table = own.tableBase + i;
    const mark = own.markBase + i;
    routes.push({ family, dst: hostPrefix(target.value.text, family), table, protocol, nexthops: [{ gateway }], purpose: 'probe', routeName: '' });
    rules.push({ family, priority: own.rulePriority, src: 'all', fwmark: mark, table, protocol });
    probes.push({ gateway, target: target.value.text, mark, table });
  });
  return { routes, rules, probes };
}

function compareRoutes(a: DesiredRoute, b: DesiredRoute): number {
  const rank = (r: DesiredRoute) => (r.purpose === 'keep' ? 0 : 1);
  return rank(a) - rank(b) || a.table - b.table || a.family - b.family || (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0);
}

/**
 * What one plan remembers for the next, so a pass plans only what changed: per Route (by its validation result, which
 * the agent keeps per generation), the node selection and the Route's own plan, valid while the context they were
 * decided in (node labels, lifelines, gateway health, rolled-back overrides, config) is the same. Only speed depends
 * on it: a plan with a memo equals the plan without one. Hold one per planner (the agent's reconciler).
 */
export class PlanMemo {
  /** @internal */ context = '';
  /** @internal */ entries = new WeakMap<object, MemoEntry>();
  /** Routes planned again (not served from the memo) by the last plan, for tests and the benchmark. */
  replanned = 0;
}

/** One Route's memo: its own plan, and its outcome when nothing else (conflicts, keep-routes) shaped it. */
interface MemoEntry {
  readonly context: string;
  readonly name: string;
  readonly planned: Selected;
  outcome?: RouteOutcome;
}

/** The context every Route's own plan is decided in, as one string (equal strings: reuse what was decided). */
function planContext(p: PlanInput, l: Lifelines): string {
  return JSON.stringify([
    p.node.labels,
    l.addresses.map((a) => [a.address.text, a.why, a.keep]),
    l.connected?.map((c) => c.cidr.text) ?? null,
    [...p.gatewaysDown].sort(),
    [...(p.overridesRolledBack ?? [])].sort(),
    p.config,
  ]);
}

/**
 * Plans the kernel state for this node. Invalid Routes become outcomes and never block valid ones. With a
 * {@link PlanMemo}, each Route's selection and own plan are reused while nothing they depend on changed.
 */
export function plan(p: PlanInput, memo?: PlanMemo): Plan {
  const outcomes: RouteOutcome[] = [];
  const valid: { input: PlanRouteInput; route: NormalizedRoute }[] = [];
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
    valid.push({ input, route: v.value.name === input.name ? v.value : { ...v.value, name: input.name } });
  }
  const l = lifelines(p.host, new Map(valid.map((v) => [v.input.name, v.route.gateways])));
  const context = memo ? planContext(p, l) : '';
  if (memo) {
    // The same context as last time: keep the very string, so each Route's check below is one pointer compare.
    if (memo.context !== context) memo.context = context;
    memo.replanned = 0;
  }
  const selected = valid.map((v) => {
    const key = v.input.validated;
    const hit = memo && key ? memo.entries.get(key) : undefined;
    if (hit && hit.context === memo?.context && hit.name === v.input.name) {
      return hit.planned.input === v.input ? hit.planned : { ...hit.planned, input: v.input };
    }
    const planned = planRoute(v.input, v.route, p, l);
    if (!memo || !key) return planned;
    memo.replanned++;
    const entry: MemoEntry = { context: memo.context, name: v.input.name, planned };
    const s = { ...planned, memo: entry };
    (entry as { planned: Selected }).planned = s;
    memo.entries.set(key, entry);
    return s;
  });
  const probe = new Set<string>();
  for (const s of selected) for (const g of s.usable) probe.add(g);

  // Two Routes claiming the same kernel route: the first by name wins, every time, and the other one is told.
  const owner = new Map<string, string>();
  const routes: DesiredRoute[] = [];
  /** Per family: the kept protected addresses each Route's planned routes would take away (by address text). */
  const capturing: Record<IpFamily, Map<string, { address: ProtectedAddress; by: Set<string> }>> = { 4: new Map(), 6: new Map() };
  const settled = selected.map((s) => {
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
      for (const a of c.captures) {
        const m = capturing[a.address.family];
        const e = m.get(a.address.text) ?? { address: a, by: new Set<string>() };
        e.by.add(s.input.name);
        m.set(a.address.text, e);
      }
    }
    return { s, conflicts, kept };
  });

  // Protected addresses a planned route would take away: kept on the node's own path, and the Routes that would
  // have taken them are told which (no other Route is blamed).
  const problems: string[] = [];
  const taken = new Set(owner.keys());
  const keeps: DesiredRoute[] = [];
  const capturedBy = new Map<string, ProtectedAddress[]>();
  for (const family of [4, 6] as const) {
    // In the lifelines' order (as before), from what each kept claim captures (decided once per destination).
    const m = capturing[family];
    if (m.size === 0) continue;
    const captured: ProtectedAddress[] = [];
    for (const a of l.addresses) {
      const e = m.get(a.address.text);
      if (!e || a.address.family !== family) continue;
      captured.push(a);
      for (const n of [...e.by].sort()) capturedBy.set(n, [...(capturedBy.get(n) ?? []), a]);
    }
    keeps.push(...keepRoutes(p, family, captured, taken, problems));
  }
  const keptDst = new Set(keeps.map((k) => k.dst));

  for (const { s, conflicts, kept } of settled) {
    // Nothing but the Route's own plan shaped its outcome (no conflict, nothing kept): the last one still holds.
    const alone = conflicts.size === 0 && kept === s.claims.length && !capturedBy.has(s.input.name);
    const last = s.memo?.outcome;
    if (alone && last && last.generation === s.input.generation) {
      outcomes.push(last);
      continue;
    }
    const all = s.usable;
    const overrideActive = s.overrideActive && routes.some((r) => r.routeName === s.input.name && r.purpose === 'override');
    const notes = [...s.notes];
    if (conflicts.size) notes.push(`destinations held by another Route: ${[...conflicts].join(', ')}`);
    const keptHere = (capturedBy.get(s.input.name) ?? []).filter((a) => keptDst.has(hostPrefix(a.address.text, a.address.family)));
    const failed = kept === 0;
    if (keptHere.length && !failed) notes.push(`kept on the node's own path: ${keptHere.map((a) => `${a.address.text} (${a.why})`).join(', ')}`);
    const reason = failed && conflicts.size ? 'DestinationConflict'
      : failed && s.badGateways.length && s.reason === 'GatewayNotOnLink' ? 'GatewayNotOnLink'
      : failed && s.refused.length && s.reason === 'ProtectedDestination' ? 'ProtectedDestination'
      : conflicts.size && s.reason === 'Programmed' ? 'PartialConflict'
      : (s.refused.length || s.badGateways.length) && s.reason === 'Programmed' ? 'PartiallyRefused'
      : s.reason;
    const o = outcome(s.input, {
      state: failed ? 'Failed' : DEGRADED_REASONS.has(reason) ? 'Degraded' : 'Applied',
      reason,
      message: notes.length ? notes.join('; ') : `programmed via ${s.active.join(', ')}`,
      gateways: all,
      activeGateways: failed ? [] : s.active,
      overrideActive,
      conflicts: [...conflicts],
      refused: s.refused,
      kept: keptHere.map((a) => a.address.text),
    });
    if (s.memo) s.memo.outcome = alone ? o : undefined;
    outcomes.push(o);
  }

  // Probing is bounded: at most probeMaxGateways gateways per node (sorted, so every pass probes the same ones).
  const cap = p.config.probeMaxGateways ?? 64;
  const probed = [...probe].sort();
  const rest = probed.length > cap ? probed.splice(cap) : [];
  if (rest.length) {
    problems.push(`${probed.length + rest.length} gateways selected on this node; only the first ${cap} are probed (--probe-max-gateways), the other ${rest.length} are assumed up: ${rest.join(', ')}`);
  }
  const sym = symmetric(p);
  const fwd = forwardProbes(p, probed);
  return {
    routes: [...keeps, ...routes, ...sym.routes, ...fwd.routes].sort(compareRoutes),
    rules: [...sym.rules, ...fwd.rules],
    forwardProbes: fwd.probes,
    sysctls: AGENT_SYSCTLS,
    outcomes: outcomes.sort(byName),
    probeGateways: probed,
    ...(rest.length ? { unprobedGateways: rest } : {}),
    problems,
  };
}
