/** The objects the controller reads, narrowed from what the informers hand over (only what it uses). */
import { leaseNode, type ReportEntry, type RouteFacts, type RouteReport } from '../../core/index.js';

function rec(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  return undefined;
}

/** The name of any object. */
export function objectName(o: unknown): string | undefined {
  return rec(o) && rec(o.metadata) ? str(o.metadata.name) : undefined;
}

/** A Route's facts for the controller's decisions. */
export function routeFactsOf(o: unknown): RouteFacts | undefined {
  if (!rec(o) || !rec(o.metadata)) return undefined;
  const m = o.metadata;
  const name = str(m.name);
  if (!name) return undefined;
  const status = rec(o.status) ? o.status : {};
  const ready = Array.isArray(status.conditions) ? status.conditions.find((c) => rec(c) && c.type === 'Ready') : undefined;
  const created = str(m.creationTimestamp);
  return {
    name,
    uid: str(m.uid),
    generation: typeof m.generation === 'number' ? m.generation : undefined,
    deleting: str(m.deletionTimestamp) !== undefined,
    finalizers: Array.isArray(m.finalizers) ? m.finalizers.filter((f): f is string => typeof f === 'string') : [],
    ...(rec(ready)
      ? {
          ready: {
            status: str(ready.status) ?? '',
            reason: str(ready.reason),
            message: str(ready.message),
            lastTransitionTime: str(ready.lastTransitionTime),
            observedGeneration: typeof ready.observedGeneration === 'number' ? ready.observedGeneration : undefined,
          },
        }
      : {}),
    appliedNodes: typeof status.appliedNodes === 'number' ? status.appliedNodes : undefined,
    selectedNodes: typeof status.selectedNodes === 'number' ? status.selectedNodes : undefined,
    ...(created && Number.isFinite(Date.parse(created)) ? { createdMs: Date.parse(created) } : {}),
  };
}

/** A RouteReport: its node (the object's name) and its entries. */
export function reportOf(o: unknown): RouteReport | undefined {
  const nodeName = objectName(o);
  if (!nodeName || !rec(o)) return undefined;
  const routes: Record<string, ReportEntry> = {};
  const s = rec(o.status) && rec(o.status.routes) ? o.status.routes : {};
  for (const [k, v] of Object.entries(s)) if (rec(v) && typeof v.state === 'string') routes[k] = v as unknown as ReportEntry;
  return { nodeName, routes };
}

/** A heartbeat Lease: its node, version and duration. */
export function heartbeatOf(o: unknown): { node: string; rv: string; durationSeconds: number } | undefined {
  const name = objectName(o);
  const node = name ? leaseNode(name) : undefined;
  if (!node || !rec(o) || !rec(o.metadata)) return undefined;
  const spec = rec(o.spec) ? o.spec : {};
  return { node, rv: str(o.metadata.resourceVersion) ?? '', durationSeconds: typeof spec.leaseDurationSeconds === 'number' ? spec.leaseDurationSeconds : 40 };
}
