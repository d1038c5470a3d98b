/**
 * Per-node finalizers, decided without I/O (docs/finalizers.md).
 *
 * Each node that holds kernel routes of a Route adds its own finalizer `<node>.nodes.kroute.dev/routes` by
 * server-side apply (field manager `kroute-agent/<node>`; metadata.finalizers is a set, so each manager owns only
 * its item and a hundred agents holding the same Route never conflict). It releases it by applying a body
 * without it. A finalizer whose Node is gone, or NotReady for longer than a grace period, is removed by any
 * other agent with a guarded JSON patch, so a deletion never hangs on a dead node; that node prunes the
 * routes when it comes back (routes of protocol 145 whose Route no longer exists are orphans).
 */
import { createHash } from 'node:crypto';
import { ROUTE_API_VERSION, ROUTE_KIND } from '../../core/index.js';
import { nodeReady, type NodeObject } from './objects.js';
import type { JsonPatchOp } from './status.js';

/** Domain of the per-node finalizers. */
export const FINALIZER_DOMAIN = 'nodes.kroute.dev';
/** Name part of the per-node finalizers. */
export const FINALIZER_NAME = 'routes';
const SUFFIX = `.${FINALIZER_DOMAIN}/${FINALIZER_NAME}`;
/** A finalizer's prefix is a DNS subdomain: at most 253 characters. */
const PREFIX_MAX = 253;

/**
 * This node's finalizer. Node names are DNS subdomains of up to 253 characters; one too long to prefix the
 * domain is replaced by a hash (the mapping back goes through {@link nodeFinalizer} of each existing node).
 */
export function nodeFinalizer(nodeName: string): string {
  const prefix = `${nodeName}.${FINALIZER_DOMAIN}`;
  if (prefix.length <= PREFIX_MAX) return `${prefix}/${FINALIZER_NAME}`;
  return `n-${createHash('sha256').update(nodeName).digest('hex').slice(0, 40)}${SUFFIX}`;
}

/** True for a finalizer of kroute's per-node kind (any node's). */
export function isNodeFinalizer(f: string): boolean {
  return f.endsWith(SUFFIX) && f.length > SUFFIX.length;
}

/** Apply body that makes this node's manager own its finalizer (uid guards against a recreated namesake). */
export function holdApplyBody(routeName: string, uid: string | undefined, nodeName: string): Record<string, unknown> {
  return {
    apiVersion: ROUTE_API_VERSION,
    kind: ROUTE_KIND,
    metadata: { name: routeName, ...(uid ? { uid } : {}), finalizers: [nodeFinalizer(nodeName)] },
  };
}

/** Apply body that owns nothing: the finalizer this manager owned, and no one else does, is removed. */
export function releaseApplyBody(routeName: string, uid: string | undefined): Record<string, unknown> {
  return { apiVersion: ROUTE_API_VERSION, kind: ROUTE_KIND, metadata: { name: routeName, ...(uid ? { uid } : {}) } };
}

/** How long a NotReady node keeps its finalizers before others release them. */
export interface FinalizerPolicy {
  /**
   * A node NotReady for this long no longer holds up deletions. The node lifecycle controller marks a silent
   * node NotReady after about 40-50 s already, so this adds little; it only spares a kubelet restart.
   */
  readonly notReadyGraceMs: number;
}

/** Default: one minute of NotReady. */
export const DEFAULT_FINALIZER_POLICY: FinalizerPolicy = { notReadyGraceMs: 60_000 };

/** Why a finalizer is stale, or that it is not yet (with when to look again). */
export interface StaleVerdict {
  /** Finalizers to remove, with the reason for each (for logs and Events). */
  readonly stale: readonly { readonly finalizer: string; readonly reason: string }[];
  /** Milliseconds until a NotReady node's grace ends; undefined when nothing is waiting. */
  readonly recheckInMs?: number;
}

/**
 * Which per-node finalizers on a Route being deleted belong to nodes that cannot release them: the Node does
 * not exist, or has been NotReady for longer than the grace. Finalizers of other kinds are never touched.
 */
export function staleFinalizers(
  finalizers: readonly string[],
  nodes: readonly NodeObject[],
  nowMs: number,
  policy: FinalizerPolicy = DEFAULT_FINALIZER_POLICY,
): StaleVerdict {
  const byFinalizer = new Map<string, NodeObject>();
  for (const n of nodes) byFinalizer.set(nodeFinalizer(n.metadata.name), n);
  const stale: { finalizer: string; reason: string }[] = [];
  let recheck: number | undefined;
  for (const f of finalizers) {
    if (!isNodeFinalizer(f)) continue;
    const node = byFinalizer.get(f);
    if (!node) {
      stale.push({ finalizer: f, reason: 'node does not exist' });
      continue;
    }
    const ready = nodeReady(node);
    if (!ready || ready.status === 'True') continue;
    const since = ready.lastTransitionTime ? Date.parse(ready.lastTransitionTime) : NaN;
    const age = Number.isFinite(since) ? nowMs - since : policy.notReadyGraceMs;
    if (age >= policy.notReadyGraceMs) stale.push({ finalizer: f, reason: `node ${node.metadata.name} NotReady for ${Math.round(age / 1000)} s` });
    else recheck = Math.min(recheck ?? Infinity, policy.notReadyGraceMs - age);
  }
  return recheck === undefined ? { stale } : { stale, recheckInMs: recheck };
}

/**
 * JSON patch removing `remove` from `current`: each removal guarded by a `test` of the item at its index, last
 * index first. If another agent removed or reordered finalizers meanwhile, a test fails and the whole patch is
 * refused (no wrong item is removed); the caller reads the object again and recomputes.
 */
export function removeFinalizersPatch(current: readonly string[], remove: readonly string[]): JsonPatchOp[] {
  const drop = new Set(remove);
  const ops: JsonPatchOp[] = [];
  for (let i = current.length - 1; i >= 0; i--) {
    if (!drop.has(current[i])) continue;
    ops.push({ op: 'test', path: `/metadata/finalizers/${i}`, value: current[i] });
    ops.push({ op: 'remove', path: `/metadata/finalizers/${i}` });
  }
  return ops;
}
