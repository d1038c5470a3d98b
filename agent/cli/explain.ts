/**
 * `kroute explain route NAME` and `kroute explain node NAME`: which nodes a Route selects and, for each it does not,
 * the term and requirement that failed; what the planner decides on each selected node (conflicts and who holds the
 * slot); what each node's agent reported. Pure: the cluster's objects come in as values.
 */
import { explainSelection, IN_KERNEL_STATES, validateRoute, type FieldError, type NodeFacts, type RouteNodeStatus, type SelectorMiss } from '../../core/index.js';
import { plan, type HostFacts, type PlanInput, type RouteOutcome } from '../../core/plan/index.js';
import { conflictHolders } from './changes.js';

/** A Route as read from the cluster (or a file): the raw object, and the entries agents wrote in its status. */
export interface ClusterRoute {
  readonly name: string;
  readonly object: unknown;
  readonly deleting: boolean;
  readonly generation?: number;
  readonly reported: readonly RouteNodeStatus[];
}

/** What one node's agent reported for a Route. */
export interface Reported {
  readonly state: string;
  readonly reason?: string;
  readonly message?: string;
  readonly activeGateways: readonly string[];
  /** lastTransitionTime: since when the node has been in this state. */
  readonly since?: string;
  readonly observedGeneration?: number;
  /** True when the entry is of an older generation than the Route (the agent has not caught up). */
  readonly stale: boolean;
}

/** The planner's decision for a Route on one node. */
export interface Planned {
  readonly state: RouteOutcome['state'];
  readonly reason: string;
  readonly message: string;
  readonly activeGateways: readonly string[];
  readonly conflicts: readonly { readonly destination: string; readonly heldBy: string }[];
}

/** One (Route, node) pair explained. */
export interface PairExplanation {
  readonly route: string;
  readonly node: string;
  readonly selected: boolean;
  /** The selector's reason, in words. */
  readonly reason: string;
  readonly matchedTerm?: number;
  /** For an unselected node: per term, the requirement that failed and the node's value. */
  readonly misses: readonly SelectorMiss[];
  /** The planner's outcome (selected nodes, or a Route that is invalid or being deleted). */
  readonly planned?: Planned;
  /** The node's status entry on the Route, when it has one. */
  readonly reported?: Reported;
  /** True when this pair is in order: not selected and nothing reported, or selected, planned and reported Applied. */
  readonly ok: boolean;
}

/** `kroute explain route NAME` (the JSON shape of `-o json`). */
export interface RouteExplanation {
  readonly kind: 'RouteExplanation';
  readonly route: string;
  readonly valid: boolean;
  readonly errors: readonly FieldError[];
  readonly deleting: boolean;
  readonly generation?: number;
  readonly nodes: readonly PairExplanation[];
  /** Status entries of nodes that do not exist (left by a node that is gone). */
  readonly unknownNodes: readonly string[];
  readonly ok: boolean;
}

/** `kroute explain node NAME` (the JSON shape of `-o json`). */
export interface NodeExplanation {
  readonly kind: 'NodeExplanation';
  readonly node: NodeFacts;
  readonly routes: readonly PairExplanation[];
  readonly problems: readonly string[];
  readonly ok: boolean;
}

/** What the planner needs besides Routes and the node. */
export interface ExplainContext {
  readonly config: PlanInput['config'];
  readonly host: (node: string) => HostFacts;
  /** Gateways the node reported down, and overrides it rolled back (inferred from its status entries). */
  readonly health?: (node: string) => { gatewaysDown: ReadonlySet<string>; overridesRolledBack: ReadonlySet<string> };
  /** False when no host was described: node-level problems the planner finds then (no default route to keep
   * addresses on) are artifacts of the missing description, not news. @default true */
  readonly hostKnown?: boolean;
}

function reportedOf(r: ClusterRoute, node: string): Reported | undefined {
  const e = r.reported.find((x) => x.nodeName === node);
  if (!e) return undefined;
  return {
    state: e.state,
    ...(e.reason !== undefined ? { reason: e.reason } : {}),
    ...(e.message !== undefined ? { message: e.message } : {}),
    activeGateways: e.activeGateways ?? [],
    ...(e.lastTransitionTime !== undefined ? { since: e.lastTransitionTime } : {}),
    ...(e.observedGeneration !== undefined ? { observedGeneration: e.observedGeneration } : {}),
    stale: e.observedGeneration !== undefined && r.generation !== undefined && e.observedGeneration < r.generation,
  };
}

function planFor(node: NodeFacts, routes: readonly ClusterRoute[], ctx: ExplainContext) {
  const health = ctx.health?.(node.name);
  const input: PlanInput = {
    routes: routes.map((r) => ({ name: r.name, object: r.object, deleting: r.deleting, ...(r.generation !== undefined ? { generation: r.generation } : {}) })),
    node,
    host: ctx.host(node.name),
    gatewaysDown: health?.gatewaysDown ?? new Set(),
    overridesRolledBack: health?.overridesRolledBack ?? new Set(),
    config: ctx.config,
  };
  return plan(input);
}

function pair(r: ClusterRoute, node: NodeFacts, p: ReturnType<typeof plan>): PairExplanation {
  const v = validateRoute(r.object);
  const sel = v.ok ? explainSelection(v.value.nodeSelector, node) : undefined;
  const o = p.outcomes.find((x) => x.name === r.name);
  const reported = reportedOf(r, node.name);
  const selected = sel?.selected ?? false;
  const planned: Planned | undefined = o && (selected || o.state === 'Invalid' || o.state === 'Removing')
    ? { state: o.state, reason: o.reason, message: o.message, activeGateways: o.activeGateways, conflicts: o.conflicts.length ? conflictHolders(p, r.name, r.object) : [] }
    : undefined;
  const ok = selected
    ? planned !== undefined && IN_KERNEL_STATES.has(planned.state) && planned.conflicts.length === 0 && reported?.state === planned.state && !reported.stale
    : v.ok && !r.deleting && reported === undefined;
  return {
    route: r.name,
    node: node.name,
    selected,
    reason: sel ? sel.reason : 'the Route is invalid: no node gets it',
    ...(sel?.matchedTerm !== undefined ? { matchedTerm: sel.matchedTerm } : {}),
    misses: sel?.misses ?? [],
    ...(planned ? { planned } : {}),
    ...(reported ? { reported } : {}),
    ok,
  };
}

/** Explains one Route across `nodes`; undefined when no Route has that name. */
export function explainRoute(name: string, routes: readonly ClusterRoute[], nodes: readonly NodeFacts[], ctx: ExplainContext): RouteExplanation | undefined {
  const r = routes.find((x) => x.name === name);
  if (!r) return undefined;
  const v = validateRoute(r.object);
  const pairs = [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((n) => pair(r, n, planFor(n, routes, ctx)));
  const known = new Set(nodes.map((n) => n.name));
  const unknownNodes = r.reported.map((e) => e.nodeName).filter((n) => !known.has(n)).sort();
  return {
    kind: 'RouteExplanation',
    route: name,
    valid: v.ok,
    errors: v.ok ? [] : v.errors,
    deleting: r.deleting,
    ...(r.generation !== undefined ? { generation: r.generation } : {}),
    nodes: pairs,
    unknownNodes,
    ok: v.ok && !r.deleting && pairs.every((x) => x.ok) && unknownNodes.length === 0,
  };
}

/** Explains one node: every Route, whether it selects the node, the planner's outcome and the node's report. */
export function explainNode(node: NodeFacts, routes: readonly ClusterRoute[], ctx: ExplainContext): NodeExplanation {
  const p = planFor(node, routes, ctx);
  const pairs = [...routes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((r) => pair(r, node, p));
  const problems = ctx.hostKnown === false ? [] : p.problems;
  return { kind: 'NodeExplanation', node, routes: pairs, problems, ok: pairs.every((x) => x.ok) && problems.length === 0 };
}

/**
 * What a node's status entries say about its gateways and overrides: a gateway of a Route that the node reports
 * out of rotation (GatewaysDown, AllGatewaysDown, OverrideWithdrawn) is down there; an override it rolled back (at
 * the Route's current generation) stays rolled back until the spec changes. The planner needs both to plan what the
 * running agent plans.
 */
export function reportedHealth(routes: readonly ClusterRoute[], node: string): { gatewaysDown: Set<string>; overridesRolledBack: Set<string> } {
  const gatewaysDown = new Set<string>();
  const overridesRolledBack = new Set<string>();
  for (const r of routes) {
    const e = r.reported.find((x) => x.nodeName === node);
    if (!e) continue;
    const current = e.observedGeneration === undefined || r.generation === undefined || e.observedGeneration === r.generation;
    if (e.reason === 'OverrideRolledBack' && current) overridesRolledBack.add(r.name);
    const v = validateRoute(r.object);
    if (!v.ok) continue;
    const all = v.value.gateways.map((g) => g.text);
    if (e.reason === 'AllGatewaysDown' || e.reason === 'OverrideWithdrawn') all.forEach((g) => gatewaysDown.add(g));
    else if (e.reason === 'GatewaysDown') {
      const active = new Set(e.activeGateways ?? []);
      all.filter((g) => !active.has(g)).forEach((g) => gatewaysDown.add(g));
    }
  }
  return { gatewaysDown, overridesRolledBack };
}
