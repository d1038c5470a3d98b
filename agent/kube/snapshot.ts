/**
 * What the source decides, without I/O: how informer events change the cached Routes and Node, whether a change
 * matters to the planner, and the snapshot handed to the reconciler.
 *
 * Every agent watches every Route, so it also receives every other agent's status write (N nodes writing to one
 * Route is N² watch events). Those change neither `metadata.generation` nor the deletion timestamp, so they
 * update the cache (the reporter reads it) but never trigger a replan.
 */
import type { NodeFacts } from '../../core/index.js';
import type { SourceSnapshot, SourcedRoute } from '../ports.js';
import { readNode, readRoute, type NodeObject, type RouteObject } from './objects.js';

/** An informer callback: which one fired, with what object. */
export interface InformerEvent {
  readonly kind: 'add' | 'update' | 'delete';
  readonly object: unknown;
}

/** One Route in the cache: the object as the API server sent it, its narrowed view, and its snapshot entry. */
export interface CachedRoute {
  readonly raw: unknown;
  readonly route: RouteObject;
  /** Built once per event, so a snapshot is an array of references (one per watch event at 2,500 Routes). */
  readonly sourced?: SourcedRoute;
}

function sourcedOf(raw: unknown, route: RouteObject): SourcedRoute {
  return {
    name: route.metadata.name,
    ...(route.metadata.uid ? { uid: route.metadata.uid } : {}),
    object: raw,
    deleting: Boolean(route.metadata.deletionTimestamp),
    ...(route.metadata.generation !== undefined ? { generation: route.metadata.generation } : {}),
  };
}

/** The result of folding one event into the cache. */
export interface Folded<S> {
  readonly state: S;
  /** True when the planner must see a new snapshot. */
  readonly replan: boolean;
}

/** True when a change from `before` to `after` matters to the planner (not a status-only or metadata-only write). */
export function planRelevant(before: RouteObject | undefined, after: RouteObject | undefined): boolean {
  if (!before || !after) return before !== after;
  if (before.metadata.uid !== after.metadata.uid) return true;
  if (Boolean(before.metadata.deletionTimestamp) !== Boolean(after.metadata.deletionTimestamp)) return true;
  const g0 = before.metadata.generation;
  const g1 = after.metadata.generation;
  // The API server bumps generation on every spec change of a CRD with a status subresource; objects without
  // one (hand-made in tests) fall back to comparing the spec.
  if (g0 !== undefined && g1 !== undefined) return g0 !== g1;
  return JSON.stringify(before.spec) !== JSON.stringify(after.spec);
}

/**
 * Drops `metadata.managedFields` from an object as it arrives, in place (client-go's TransformStripManagedFields):
 * the agent never reads them, and with a field manager per node they are most of a Route's size in memory.
 */
export function stripManagedFields(obj: unknown): void {
  if (typeof obj !== 'object' || obj === null) return;
  const m = (obj as { metadata?: Record<string, unknown> }).metadata;
  if (m && 'managedFields' in m) delete m.managedFields;
}

/** Folds one Route informer event into the cache (a new Map; the old one is left as it was). */
export function foldRouteEvent(routes: ReadonlyMap<string, CachedRoute>, ev: InformerEvent): Folded<ReadonlyMap<string, CachedRoute>> {
  const next = new Map(routes);
  const replan = applyRouteEvent(next, ev);
  return { state: replan === undefined ? routes : next, replan: replan ?? false };
}

/**
 * The same fold, in place: the source's own cache, where copying a 2,500-entry map on each of the N² status-write
 * events cost time and garbage. Returns whether to replan, or undefined when the event changed nothing.
 */
export function applyRouteEvent(routes: Map<string, CachedRoute>, ev: InformerEvent): boolean | undefined {
  const route = readRoute(ev.object);
  if (!route) return undefined;
  const name = route.metadata.name;
  const before = routes.get(name)?.route;
  if (ev.kind === 'delete') {
    // A delete for an object of another incarnation (same name, other uid) is stale: keep the cached one.
    if (before && before.metadata.uid && route.metadata.uid && before.metadata.uid !== route.metadata.uid) return undefined;
    routes.delete(name);
    return before !== undefined;
  }
  routes.set(name, { raw: ev.object, route, sourced: sourcedOf(ev.object, route) });
  return planRelevant(before, route);
}

/**
 * Folds one event of the informer on this node's Node object. A delete keeps the last facts: a Node object
 * going away is no reason to drop the routes its selectors picked (the node is going away anyway, and if it
 * comes back it registers again).
 */
export function foldNodeEvent(node: NodeObject | undefined, ev: InformerEvent, nodeName: string): Folded<NodeObject | undefined> {
  const n = readNode(ev.object);
  if (!n || n.metadata.name !== nodeName) return { state: node, replan: false };
  if (ev.kind === 'delete') return { state: node, replan: false };
  return { state: n, replan: !node || !sameLabels(node.metadata.labels, n.metadata.labels) };
}

function sameLabels(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  const ka = Object.keys(a ?? {}).sort();
  const kb = Object.keys(b ?? {}).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && (a ?? {})[k] === (b ?? {})[k]);
}

/** The node's facts for the planner: its name and labels. */
export function nodeFacts(node: NodeObject | undefined, nodeName: string): NodeFacts {
  return { name: nodeName, labels: { ...(node?.metadata.labels ?? {}) } };
}

/**
 * The snapshot the reconciler gets: every cached Route (sorted by name), deleting or not, and the node. The Routes are
 * taken now and sorted on first read: the source hands over one snapshot per watch read, and while a pass runs the
 * reconciler reads only the last of them (sorting 1,000 Routes for each of a burst's creates was CPU taken from the
 * passes).
 */
export function buildSnapshot(routes: ReadonlyMap<string, CachedRoute>, node: NodeObject | undefined, nodeName: string): SourceSnapshot {
  const taken = [...routes.values()];
  let sorted: SourcedRoute[] | undefined;
  return {
    get routes(): readonly SourcedRoute[] {
      sorted ??= taken.map(({ raw, route, sourced: s }) => s ?? sourcedOf(raw, route)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return sorted;
    },
    node: nodeFacts(node, nodeName),
    problems: [],
  };
}
