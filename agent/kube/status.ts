/**
 * Route status, decided without I/O (docs/status.md).
 *
 * - `status.nodes` is a list-map keyed by nodeName. Each agent server-side-applies one entry, its own, with the
 *   field manager `kroute-agent/<node>`: the API server merges entries by key, so agents never conflict and
 *   never overwrite each other.
 * - `appliedNodes`, `selectedNodes` and the `Ready` condition are counts over all entries. A count needs one
 *   writer, so they are written by one agent at a time under the single field manager `kroute-agent/summary`:
 *   the agent of the lowest-named Ready node among the Route's entries. Every agent can compute who that is
 *   from the same object and the same Node list; a brief disagreement while views converge is harmless because
 *   both compute the same counts from the same object under the same manager.
 */
import { createHash } from 'node:crypto';
import {
  ROUTE_API_VERSION, ROUTE_KIND, summarizeRoute, summaryApplyBody as controllerSummaryBody, summaryShown as routeShowsSummary,
  type NodeEntry, type RouteFacts, type RouteNodeStatus, type RouteSummary as CoreRouteSummary,
} from '../../core/index.js';
import type { NodeObject, RouteObject } from './objects.js';
import { nodeReady } from './objects.js';

/** A JSON patch operation (RFC 6902) of the kinds the agent sends. */
export type JsonPatchOp =
  | { readonly op: 'test'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** Prefix of every field manager the agent uses. */
export const FIELD_MANAGER_PREFIX = 'kroute-agent/';
/** The one field manager of the counts and the Ready condition. */
export const SUMMARY_FIELD_MANAGER = `${FIELD_MANAGER_PREFIX}summary`;
/** Field managers are at most 128 characters (apimachinery's validation). */
const FIELD_MANAGER_MAX = 128;

/** `kroute-agent/<node>`; names too long for a field manager end in a hash so two nodes never share one. */
export function agentFieldManager(nodeName: string): string {
  const full = `${FIELD_MANAGER_PREFIX}${nodeName}`;
  if (full.length <= FIELD_MANAGER_MAX) return full;
  const hash = createHash('sha256').update(nodeName).digest('hex').slice(0, 12);
  return `${full.slice(0, FIELD_MANAGER_MAX - hash.length - 1)}-${hash}`;
}

/** The apply body for one node's entry: only that entry, so this manager owns only it. */
export function nodeEntryApplyBody(routeName: string, entry: RouteNodeStatus): Record<string, unknown> {
  return { apiVersion: ROUTE_API_VERSION, kind: ROUTE_KIND, metadata: { name: routeName }, status: { nodes: [compactEntry(entry)] } };
}

/**
 * The apply body that removes this manager's entry: an empty `nodes` list. Server-side apply drops the list items
 * a manager owned and no longer applies; entries owned by other managers stay.
 */
export function nodeEntriesClearBody(routeName: string): Record<string, unknown> {
  return { apiVersion: ROUTE_API_VERSION, kind: ROUTE_KIND, metadata: { name: routeName }, status: { nodes: [] } };
}

/** The entry without undefined fields (they would otherwise be sent as nothing and compared as something). */
export function compactEntry(entry: RouteNodeStatus): RouteNodeStatus {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entry)) if (v !== undefined) out[k] = Array.isArray(v) ? [...v] : v;
  return out as unknown as RouteNodeStatus;
}

/** True when two entries say the same (activeGateways compared as a set). */
export function sameEntry(a: RouteNodeStatus | undefined, b: RouteNodeStatus | undefined): boolean {
  if (!a || !b) return a === b;
  const norm = (e: RouteNodeStatus) => {
    const c = compactEntry(e) as unknown as Record<string, unknown>;
    if (Array.isArray(c.activeGateways)) c.activeGateways = [...(c.activeGateways as string[])].sort();
    return JSON.stringify(Object.keys(c).sort().map((k) => [k, c[k]]));
  };
  return norm(a) === norm(b);
}

/** This node's entry as the object currently holds it. */
export function entryOf(route: RouteObject | undefined, nodeName: string): RouteNodeStatus | undefined {
  return route?.status?.nodes?.find((e) => e.nodeName === nodeName);
}

/** The counts and condition one writer keeps on a Route (core's summary without its nodes list). */
export type RouteSummary = Omit<CoreRouteSummary, 'nodes'>;

/** The Route as core's summary rule reads it. */
function factsOf(route: RouteObject): RouteFacts {
  const ready = route.status?.conditions?.find((c) => c.type === 'Ready');
  return {
    name: route.metadata.name,
    generation: route.metadata.generation,
    deleting: false,
    finalizers: [],
    ...(ready ? { ready } : {}),
    appliedNodes: route.status?.appliedNodes,
    selectedNodes: route.status?.selectedNodes,
  };
}

/**
 * Counts over the entries, by core's rule (core/route-report.ts, the controller's): selected = entries not
 * `NotSelected` (every agent counts as live here: this design has no heartbeat); applied = `Applied` or `Degraded`
 * at the current generation. Ready is True when every selected node has applied the current generation, False with
 * the first reason that applies otherwise (Invalid, Failed, Progressing, NoNodes). `now` stamps a transition; an
 * unchanged status keeps the previous lastTransitionTime. Nodes are named in name order.
 */
export function summarize(route: RouteObject, now: string): RouteSummary {
  const entries: NodeEntry[] = (route.status?.nodes ?? [])
    .filter((e) => e.state !== 'NotSelected')
    .sort((a, b) => (a.nodeName < b.nodeName ? -1 : a.nodeName > b.nodeName ? 1 : 0))
    .map((e) => ({ nodeName: e.nodeName, entry: e, node: { exists: true, live: true } }));
  const s = summarizeRoute(factsOf(route), entries, now);
  return { appliedNodes: s.appliedNodes, selectedNodes: s.selectedNodes, ready: s.ready };
}

/** True when the object already shows `s` (so the writer has nothing to write): core's comparison. */
export function summaryShown(route: RouteObject, s: RouteSummary): boolean {
  return routeShowsSummary(factsOf(route), { ...s, nodes: [] });
}

/**
 * The apply body of the summary (manager {@link SUMMARY_FIELD_MANAGER}): core's, without `status.nodes` (in this
 * design the agents own that list, an entry each).
 */
export function summaryApplyBody(routeName: string, s: RouteSummary): Record<string, unknown> {
  const body = controllerSummaryBody(routeName, { ...s, nodes: [] });
  const status = { ...(body.status as Record<string, unknown>) };
  delete status.nodes;
  return { ...body, status };
}

/** Names of the nodes whose Ready condition is True. */
export function readyNodeNames(nodes: readonly NodeObject[]): Set<string> {
  return new Set(nodes.filter((n) => nodeReady(n)?.status === 'True').map((n) => n.metadata.name));
}

/**
 * Which node writes the summary of `route`: the lowest-named node among its entries that is Ready. Undefined
 * when no entry belongs to a Ready node (then nobody writes, and the counts stay as they were).
 */
export function summaryWriter(route: RouteObject, ready: ReadonlySet<string>): string | undefined {
  const names = (route.status?.nodes ?? []).map((e) => e.nodeName).filter((n) => ready.has(n)).sort();
  return names[0];
}

/**
 * Who summarizes a Route that has no entries at all: it selects no node (agents write no `NotSelected` entries),
 * so the lowest-named Ready node of the cluster writes its counts (0) and Ready (`NoNodes`), rather than nobody
 * and the counts of the nodes it used to select staying. Undefined when the Route has entries.
 */
export function emptyRouteSummaryWriter(route: RouteObject, ready: ReadonlySet<string>): string | undefined {
  if ((route.status?.nodes ?? []).length > 0) return undefined;
  return [...ready].sort()[0];
}

/**
 * JSON patch removing the entries of nodes that no longer exist (their agents will never update them). Each
 * removal is guarded by a `test` of the entry's nodeName, so a concurrent change fails the patch instead of
 * removing the wrong entry; indices go from last to first so earlier removals do not shift later ones.
 */
export function staleEntriesPatch(route: RouteObject, existing: ReadonlySet<string>): JsonPatchOp[] {
  const entries = route.status?.nodes ?? [];
  const ops: JsonPatchOp[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    if (existing.has(entries[i].nodeName)) continue;
    ops.push({ op: 'test', path: `/status/nodes/${i}/nodeName`, value: entries[i].nodeName });
    ops.push({ op: 'remove', path: `/status/nodes/${i}` });
  }
  return ops;
}
