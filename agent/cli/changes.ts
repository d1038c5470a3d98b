/**
 * What `kroute plan` prints: the kernel changes the agent would make now (the planner's desired state against what
 * the kernel holds, through the agent's own diff), what the planner refuses and why, and the probes it would run.
 * Pure: the kernel state and sysctl values are read elsewhere (or absent, offline).
 */
import { validateRoute, type IpFamily, type NodeFacts } from '../../core/index.js';
import {
  OVERRIDE_HALVES, plan, routeKey, type DesiredRoute, type DesiredRule, type ForwardProbe, type NextHop, type Plan,
  type PlanInput, type RouteOutcome, type RoutePurpose,
} from '../../core/plan/index.js';
import { defaultMetric, diffKernel, type DesiredKernel, type KernelOp } from '../kernel/diff.js';
import { sortHops, type KernelRoute, type KernelState } from '../kernel/state.js';

/** One route the agent would add, replace or remove. */
export interface RouteChange {
  readonly action: 'add' | 'replace' | 'remove';
  readonly family: IpFamily;
  readonly table: number;
  readonly dst: string;
  /** Next hops after the change (for `remove`: those of the route removed). */
  readonly nexthops: readonly NextHop[];
  /** Next hops in the kernel now (`replace` only). */
  readonly before?: readonly NextHop[];
  /** Why the route exists (`add`/`replace`); absent for `remove` (the kernel does not say). */
  readonly purpose?: RoutePurpose;
  /** The Route it comes from; empty for kroute's own (keep-routes, symmetric routing, probes). */
  readonly route?: string;
}

/** One ip rule the agent would add or remove. */
export interface RuleChange {
  readonly action: 'add' | 'remove';
  readonly family: IpFamily;
  readonly priority: number;
  readonly src: string;
  readonly fwmark?: number;
  readonly table: number;
}

/** One sysctl the agent wants: `set` when it differs, `keep` when right, `unknown` when it could not be read. */
export interface SysctlChange {
  readonly key: string;
  readonly value: string;
  readonly current?: string;
  readonly action: 'set' | 'keep' | 'unknown';
}

/** Something the planner or the kernel diff will not do, and why. */
export interface Refusal {
  /** The Route concerned; empty for node-level problems. */
  readonly route: string;
  /** CamelCase: InvalidRoute, DestinationConflict, PartialConflict, ForeignRoute, OverrideRolledBack, ... */
  readonly reason: string;
  readonly message: string;
  /** The destination (kernel prefix) concerned, when one is. */
  readonly destination?: string;
  /** The Route holding the destination (conflicts). */
  readonly heldBy?: string;
}

/** The kernel changes, as one value. */
export interface KernelChanges {
  readonly routes: readonly RouteChange[];
  readonly rules: readonly RuleChange[];
  readonly sysctls: readonly SysctlChange[];
}

/** A Route's outcome on the node, as `kroute plan` shows it. */
export interface OutcomeView {
  readonly route: string;
  readonly state: RouteOutcome['state'];
  readonly reason: string;
  readonly message: string;
  readonly activeGateways: readonly string[];
}

/** `kroute plan` for one node (the JSON shape of `-o json`; docs/cli.md). */
export interface NodePlanReport {
  readonly kind: 'NodePlan';
  readonly node: NodeFacts;
  /** Where the host facts and the kernel state came from. */
  readonly host: { readonly source: 'local' | 'file' | 'none'; readonly kernelRead: boolean };
  readonly changes: KernelChanges;
  /** Desired routes and rules already in place. */
  readonly unchanged: number;
  readonly probes: { readonly gateways: readonly string[]; readonly forward: readonly ForwardProbe[] };
  readonly refused: readonly Refusal[];
  readonly outcomes: readonly OutcomeView[];
  readonly problems: readonly string[];
  /** True when there are changes to make or anything refused: the exit code is 2. */
  readonly pending: boolean;
}

/** Routes and rules the kernel holds, as kroute's (owned) kernel state; none when the kernel was not read. */
export const EMPTY_KERNEL: KernelState = { owned: [], foreign: [], ownedRules: [] };

function hops(h: readonly NextHop[]): NextHop[] {
  return h.map((x) => ({ ...(x.gateway ? { gateway: x.gateway } : {}), ...(x.dev ? { dev: x.dev } : {}) }));
}

/** Turns the diff's operations into changes, finding the current next hops of a replaced route. */
export function changesOf(ops: readonly KernelOp[], state: KernelState): { routes: RouteChange[]; rules: RuleChange[] } {
  const owned = new Map<string, KernelRoute>();
  for (const r of state.owned) owned.set(`${r.family} ${r.table} ${r.dst} ${r.metric}`, r);
  const routes: RouteChange[] = [];
  const rules: RuleChange[] = [];
  for (const op of ops) {
    if (op.kind === 'replace-route') {
      const r = op.route;
      const have = owned.get(`${r.family} ${r.table} ${r.dst} ${defaultMetric(r.family)}`);
      routes.push({
        action: have ? 'replace' : 'add', family: r.family, table: r.table, dst: r.dst, nexthops: hops(r.nexthops),
        ...(have ? { before: hops(have.nexthops) } : {}), purpose: r.purpose, route: r.routeName,
      });
    } else if (op.kind === 'delete-route') {
      const r = op.route;
      routes.push({ action: 'remove', family: r.family, table: r.table, dst: r.dst, nexthops: hops(r.nexthops) });
    } else {
      const r = op.rule;
      rules.push({
        action: op.kind === 'add-rule' ? 'add' : 'remove', family: r.family, priority: r.priority, src: r.src,
        ...(r.fwmark !== undefined ? { fwmark: r.fwmark } : {}), table: r.table,
      });
    }
  }
  return { routes, rules };
}

/** The kernel prefixes a Route asks for (an override's /1 halves for a /0), or none when it is invalid. */
function claimedPrefixes(object: unknown): string[] {
  const v = validateRoute(object);
  if (!v.ok) return [];
  return v.value.destinations.flatMap((d) => (d.prefixLength === 0 ? [...OVERRIDE_HALVES[v.value.family]] : [d.text]));
}

/** For a Route in conflict: which destinations another Route holds, and which Route. */
export function conflictHolders(p: Plan, routeName: string, object: unknown): { destination: string; heldBy: string }[] {
  const holder = new Map<string, string>();
  for (const r of p.routes) if (r.routeName) holder.set(routeKey(r), r.routeName);
  const out: { destination: string; heldBy: string }[] = [];
  for (const dst of claimedPrefixes(object)) {
    const h = holder.get(routeKey({ table: 254, dst }));
    if (h !== undefined && h !== routeName) out.push({ destination: dst, heldBy: h });
  }
  return out;
}

/** What the planner refuses in `p` (invalid Routes, conflicts, rollbacks, node problems) and the kernel diff (foreign routes). */
export function refusals(p: Plan, input: PlanInput, foreign: readonly { route: DesiredRoute; protocol: number }[]): Refusal[] {
  const objects = new Map(input.routes.map((r) => [r.name, r.object]));
  const out: Refusal[] = [];
  for (const o of p.outcomes) {
    if (o.state === 'Invalid') out.push({ route: o.name, reason: o.reason, message: o.message });
    else if (o.conflicts.length) {
      for (const c of conflictHolders(p, o.name, objects.get(o.name))) {
        out.push({ route: o.name, reason: o.reason, message: `${c.destination} is held by Route ${c.heldBy} (the first by name wins)`, destination: c.destination, heldBy: c.heldBy });
      }
    } else if (o.reason === 'OverrideRolledBack' || o.reason === 'OverrideWithdrawn') out.push({ route: o.name, reason: o.reason, message: o.message });
  }
  for (const f of foreign) {
    out.push({
      route: f.route.routeName, reason: 'ForeignRoute', destination: f.route.dst,
      message: `${f.route.dst} table ${f.route.table}: a route not owned by kroute (protocol ${f.protocol}) is already there; left alone`,
    });
  }
  for (const pr of p.problems) out.push({ route: '', reason: 'NodeProblem', message: pr });
  return out;
}

/** The sysctls the plan wants against their current values (`current` undefined: not read). */
export function sysctlChanges(p: Plan, current: ReadonlyMap<string, string> | undefined): SysctlChange[] {
  return p.sysctls.map((s) => {
    const now = current?.get(s.key);
    if (now === undefined) return { key: s.key, value: s.value, action: 'unknown' as const };
    return { key: s.key, value: s.value, current: now, action: now === s.value ? ('keep' as const) : ('set' as const) };
  });
}

/** `kroute plan` for one node: plan, diff against `kernel` (empty when not read), refusals. */
export function nodePlan(input: PlanInput, opts: { kernel?: KernelState; sysctls?: ReadonlyMap<string, string>; source: NodePlanReport['host']['source'] }): NodePlanReport {
  const p = plan(input);
  const kernel = opts.kernel ?? EMPTY_KERNEL;
  const d = diffKernel(kernel, { routes: p.routes, rules: p.rules }, input.config.ownership.protocol);
  const { routes, rules } = changesOf(d.ops, kernel);
  const sysctls = sysctlChanges(p, opts.sysctls);
  const refused = refusals(p, input, d.conflicts.map((c) => ({ route: c.route, protocol: c.foreign.protocol })));
  const pending = routes.length > 0 || rules.length > 0 || sysctls.some((s) => s.action === 'set') || refused.length > 0;
  return {
    kind: 'NodePlan',
    node: input.node,
    host: { source: opts.source, kernelRead: opts.kernel !== undefined },
    changes: { routes, rules, sysctls },
    unchanged: d.unchanged,
    probes: { gateways: p.probeGateways, forward: p.forwardProbes },
    refused,
    outcomes: p.outcomes.map((o) => ({ route: o.name, state: o.state, reason: o.reason, message: o.message, activeGateways: o.activeGateways })),
    problems: p.problems,
    pending,
  };
}

/** A desired state as the kernel would hold it once applied (kroute's routes at the default metric). */
export function asKernel(desired: DesiredKernel): KernelState {
  // Next hops sorted, as the kernel reader gives them (the diff compares them in that order).
  const route = (r: DesiredRoute): KernelRoute => ({ family: r.family, dst: r.dst, table: r.table, protocol: r.protocol, metric: defaultMetric(r.family), type: 1, nexthops: sortHops(r.nexthops) });
  const rule = (r: DesiredRule) => ({ family: r.family, priority: r.priority, src: r.src, table: r.table, protocol: r.protocol, ...(r.fwmark !== undefined ? { fwmark: r.fwmark } : {}) });
  return { owned: desired.routes.map(route), foreign: [], ownedRules: desired.rules.map(rule) };
}

/** `kroute plan -f` for one node: what the proposed Routes change against the plan without them. */
export interface ProposalNodeReport {
  readonly node: NodeFacts;
  readonly changes: { readonly routes: readonly RouteChange[]; readonly rules: readonly RuleChange[] };
  /** The proposed Routes' outcomes on this node (NotSelected ones included, with the selector's reason). */
  readonly outcomes: readonly OutcomeView[];
  /** Other Routes whose outcome changes (a proposal that takes a destination away from one, say). */
  readonly affected: readonly OutcomeView[];
  readonly refused: readonly Refusal[];
  readonly pending: boolean;
}

/** Plans `input` with and without `proposed` (which replace Routes of the same name) and diffs the two. */
export function proposalPlan(input: PlanInput, proposed: readonly { name: string; object: unknown }[]): ProposalNodeReport {
  const names = new Set(proposed.map((r) => r.name));
  const before = plan(input);
  const afterInput: PlanInput = {
    ...input,
    routes: [...input.routes.filter((r) => !names.has(r.name)), ...proposed.map((r) => ({ name: r.name, object: r.object, deleting: false }))],
  };
  const after = plan(afterInput);
  const d = diffKernel(asKernel(before), { routes: after.routes, rules: after.rules }, input.config.ownership.protocol);
  const { routes, rules } = changesOf(d.ops, asKernel(before));
  const view = (o: RouteOutcome): OutcomeView => ({ route: o.name, state: o.state, reason: o.reason, message: o.message, activeGateways: o.activeGateways });
  const was = new Map(before.outcomes.map((o) => [o.name, JSON.stringify(view(o))]));
  const refused = refusals(after, afterInput, []).filter((r) => names.has(r.route) || (r.heldBy !== undefined && names.has(r.heldBy)));
  return {
    node: input.node,
    changes: { routes, rules },
    outcomes: after.outcomes.filter((o) => names.has(o.name)).map(view),
    affected: after.outcomes.filter((o) => !names.has(o.name) && was.get(o.name) !== JSON.stringify(view(o))).map(view),
    refused,
    pending: routes.length > 0 || rules.length > 0 || refused.length > 0,
  };
}
