/**
 * Kubernetes Events, decided without I/O. core/v1 Events (the agent's RBAC allows events create/patch in both
 * groups; core/v1 is what `kubectl describe route` and every client read). Repeats of the same (Route, type,
 * reason, message) within a window are one Event whose `count` and `lastTimestamp` grow, as client-go's
 * recorder aggregates, and such patches are throttled: a failure that repeats every resync does not become a
 * write per resync per node.
 */
import { createHash } from 'node:crypto';
import { ROUTE_API_VERSION, ROUTE_KIND } from '../../core/index.js';
import type { AgentEvent } from '../ports.js';

/** Events about a cluster-scoped object live in `default` (apimachinery's validation). */
export const EVENT_NAMESPACE = 'default';
/** reportingComponent of the agent's Events. */
export const REPORTING_CONTROLLER = 'kroute.dev/agent';

/** How repeats are folded. */
export interface EventPolicy {
  /** A repeat after this long without one starts a new Event. */
  readonly windowMs: number;
  /** At most one count patch per Event in this time; repeats in between are counted and sent with the next. */
  readonly minPatchIntervalMs: number;
  /** Messages are cut to this length (core/v1 allows 1 KiB in events.k8s.io; keep both happy). */
  readonly maxMessage: number;
}

/** Defaults: 10 min window (client-go's aggregation window), one patch per 30 s per Event. */
export const DEFAULT_EVENT_POLICY: EventPolicy = { windowMs: 600_000, minPatchIntervalMs: 30_000, maxMessage: 1024 };

/** What the agent remembers of one Event it wrote. */
export interface EventRecord {
  readonly name: string;
  readonly count: number;
  /** Count the API server has. */
  readonly writtenCount: number;
  readonly firstMs: number;
  readonly lastMs: number;
  readonly lastWriteMs: number;
}

/** What to do with one event. */
export type EventAction =
  | { readonly kind: 'create'; readonly body: Record<string, unknown> }
  | { readonly kind: 'patch'; readonly name: string; readonly body: Record<string, unknown> }
  | { readonly kind: 'skip' };

/** Key of the repeats that fold into one Event. */
export function eventKey(e: AgentEvent): string {
  return `${e.routeName}\u0000${e.type}\u0000${e.reason}\u0000${e.message}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A name unique per node and moment, like client-go's `<object>.<hex nanos>`. */
export function eventName(routeName: string, nodeName: string, nowMs: number): string {
  const h = createHash('sha256').update(`${nodeName}\u0000${nowMs}\u0000${routeName}`).digest('hex').slice(0, 8);
  return `${routeName.slice(0, 200)}.${nowMs.toString(16)}${h}`;
}

/** The decision for one event given what was written before; returns the action and the new record. */
export function decideEvent(
  prev: EventRecord | undefined,
  e: AgentEvent,
  ctx: { readonly nodeName: string; readonly routeUid?: string; readonly nowMs: number },
  policy: EventPolicy = DEFAULT_EVENT_POLICY,
): { readonly action: EventAction; readonly record: EventRecord } {
  const now = ctx.nowMs;
  if (prev && now - prev.lastMs < policy.windowMs) {
    const count = prev.count + 1;
    if (now - prev.lastWriteMs < policy.minPatchIntervalMs) {
      return { action: { kind: 'skip' }, record: { ...prev, count, lastMs: now } };
    }
    return {
      action: { kind: 'patch', name: prev.name, body: { count, lastTimestamp: iso(now) } },
      record: { ...prev, count, writtenCount: count, lastMs: now, lastWriteMs: now },
    };
  }
  const name = eventName(e.routeName, ctx.nodeName, now);
  const message = e.message.length > policy.maxMessage ? `${e.message.slice(0, policy.maxMessage - 3)}...` : e.message;
  const body = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: EVENT_NAMESPACE },
    involvedObject: { apiVersion: ROUTE_API_VERSION, kind: ROUTE_KIND, name: e.routeName, ...(ctx.routeUid ? { uid: ctx.routeUid } : {}) },
    type: e.type,
    reason: e.reason,
    message,
    count: 1,
    firstTimestamp: iso(now),
    lastTimestamp: iso(now),
    source: { component: 'kroute-agent', host: ctx.nodeName },
    reportingComponent: REPORTING_CONTROLLER,
    reportingInstance: ctx.nodeName,
  };
  return {
    action: { kind: 'create', body },
    record: { name, count: 1, writtenCount: 1, firstMs: now, lastMs: now, lastWriteMs: now },
  };
}

/** Drops records older than the window (called now and then so the map does not grow without bound). */
export function expireEvents(records: ReadonlyMap<string, EventRecord>, nowMs: number, policy: EventPolicy = DEFAULT_EVENT_POLICY): Map<string, EventRecord> {
  const out = new Map<string, EventRecord>();
  for (const [k, r] of records) if (nowMs - r.lastMs < policy.windowMs) out.set(k, r);
  return out;
}
