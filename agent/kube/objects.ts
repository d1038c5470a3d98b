/**
 * The shapes of the Kubernetes objects the agent reads, narrowed from `unknown` (the informer hands over whatever
 * the API server sent). Only what the agent uses is typed.
 */
import type { RouteNodeStatus } from '../../core/index.js';

/** Metadata fields the agent reads. */
export interface KubeMeta {
  readonly name: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly deletionTimestamp?: string;
  readonly finalizers?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
}

/** A Route as read from the API server: metadata narrowed, the rest kept as sent. */
export interface RouteObject {
  readonly metadata: KubeMeta;
  readonly status?: {
    readonly nodes?: readonly RouteNodeStatus[];
    readonly appliedNodes?: number;
    readonly selectedNodes?: number;
    readonly conditions?: readonly KubeCondition[];
  };
  readonly [key: string]: unknown;
}

/** A condition as read from an object. */
export interface KubeCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
  readonly observedGeneration?: number;
}

/** A Node as the agent needs it: name, labels, the Ready condition. */
export interface NodeObject {
  readonly metadata: KubeMeta;
  readonly status?: { readonly conditions?: readonly KubeCondition[] };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  // client-node's typed list functions turn timestamps into Date objects.
  if (v instanceof Date) return v.toISOString();
  return undefined;
}

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isRecord(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** Narrows object metadata; undefined when there is no name. */
export function readMeta(obj: unknown): KubeMeta | undefined {
  if (!isRecord(obj) || !isRecord(obj.metadata)) return undefined;
  const m = obj.metadata;
  const name = str(m.name);
  if (!name) return undefined;
  const generation = typeof m.generation === 'number' ? m.generation : undefined;
  return {
    name,
    uid: str(m.uid),
    generation,
    resourceVersion: str(m.resourceVersion),
    deletionTimestamp: str(m.deletionTimestamp),
    finalizers: strings(m.finalizers),
    labels: stringMap(m.labels),
  };
}

function readConditions(v: unknown): KubeCondition[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: KubeCondition[] = [];
  for (const c of v) {
    if (!isRecord(c)) continue;
    const type = str(c.type);
    const status = str(c.status);
    if (!type || !status) continue;
    out.push({
      type,
      status,
      reason: str(c.reason),
      message: str(c.message),
      lastTransitionTime: str(c.lastTransitionTime),
      observedGeneration: typeof c.observedGeneration === 'number' ? c.observedGeneration : undefined,
    });
  }
  return out;
}

function readNodeEntries(v: unknown): RouteNodeStatus[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: RouteNodeStatus[] = [];
  for (const e of v) {
    if (!isRecord(e)) continue;
    const nodeName = str(e.nodeName);
    const state = str(e.state);
    if (!nodeName || !state) continue;
    out.push(e as unknown as RouteNodeStatus);
  }
  return out;
}

/** Narrows a Route read from the API server; undefined when it has no name. */
export function readRoute(obj: unknown): RouteObject | undefined {
  const metadata = readMeta(obj);
  if (!metadata || !isRecord(obj)) return undefined;
  const s = isRecord(obj.status) ? obj.status : undefined;
  const status = s
    ? {
        nodes: readNodeEntries(s.nodes),
        appliedNodes: typeof s.appliedNodes === 'number' ? s.appliedNodes : undefined,
        selectedNodes: typeof s.selectedNodes === 'number' ? s.selectedNodes : undefined,
        conditions: readConditions(s.conditions),
      }
    : undefined;
  return { ...obj, metadata, status };
}

/** Narrows a Node read from the API server; undefined when it has no name. */
export function readNode(obj: unknown): NodeObject | undefined {
  const metadata = readMeta(obj);
  if (!metadata || !isRecord(obj)) return undefined;
  const s = isRecord(obj.status) ? obj.status : undefined;
  return { metadata, status: s ? { conditions: readConditions(s.conditions) } : undefined };
}

/** The Ready condition of a Node, if it reports one. */
export function nodeReady(node: NodeObject): KubeCondition | undefined {
  return node.status?.conditions?.find((c) => c.type === 'Ready');
}
