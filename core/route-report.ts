/**
 * What each node reports about the Routes it holds, one small object per node (docs/status.md): the RouteReport
 * CRD, its entries, the per-node heartbeat Lease, and the pure decisions of the one controller that turns reports
 * into each Route's summary and releases its finalizer. No I/O here.
 *
 * - A RouteReport is cluster-scoped, named after its Node and owned by it (the garbage collector removes it with
 *   the Node). Only that node's agent writes it (RBAC + the node-restriction policy in report-manifests.ts);
 *   agents never watch reports, only the controller does, so a rollout to N nodes costs N report writes and N
 *   watch events in all, not N².
 * - Each agent renews a Lease `kroute-node-<node>` in its namespace. An agent whose Lease the controller has not
 *   seen renewed for its duration is dead: its reports are not waited for.
 * - The controller is the one writer of a Route's summary (counts, Ready, the nodes that are not done yet) and
 *   holds one finalizer per Route, released once no live node reports the Route any more.
 */
import { commonLabels, KROUTE_VERSION, type Manifest } from './manifest.js';
import { LIMITS } from './limits.js';
import { ROUTE_API_VERSION, ROUTE_KIND, type RouteNodeStatus } from './route.js';

/** API group of kroute's own resources (Routes stay in DigitalOcean's group). */
export const REPORT_GROUP = 'kroute.dev';
/** Version of the RouteReport resource. */
export const REPORT_VERSION = 'v1alpha1';
/** Kind of the per-node report. */
export const REPORT_KIND = 'RouteReport';
/** Plural of the per-node report. */
export const REPORT_PLURAL = 'routereports';
/** `kroute.dev/v1alpha1`. */
export const REPORT_API_VERSION = `${REPORT_GROUP}/${REPORT_VERSION}`;
/** The one finalizer the controller holds on every Route. */
export const ROUTE_FINALIZER = `${REPORT_GROUP}/node-routes`;
/** Prefix of the per-node heartbeat Leases (in the agent's namespace). */
export const NODE_LEASE_PREFIX = 'kroute-node-';
/** Field manager of everything the controller writes. */
export const CONTROLLER_FIELD_MANAGER = 'kroute-controller';
/** States a report entry can have (NotSelected is never reported: the entry is removed instead). */
export const REPORT_STATES = ['Applied', 'Degraded', 'Invalid', 'Failed', 'Removing'] as const;
/** Most entries a Route's `status.nodes` shows (the nodes not done yet); the rest are counted. */
export const SUMMARY_NODES_MAX = 20;
/**
 * Most entries one report holds. An entry is ~150-250 bytes of JSON, so 5,000 entries stay well under etcd's
 * 1.5 MiB object limit.
 */
export const REPORT_ENTRIES_MAX = 5000;

/** Heartbeat timing. The kubelet's node Lease uses the same numbers (40 s duration, renewed every 10 s). */
export interface LeaseTiming {
  readonly durationSeconds: number;
  readonly renewSeconds: number;
}

/** Default heartbeat: a dead agent stops holding deletions 40-50 s after its last renewal. */
export const DEFAULT_LEASE_TIMING: LeaseTiming = { durationSeconds: 40, renewSeconds: 10 };

/** One Route as one node reports it. */
export interface ReportEntry {
  /** uid of the Route this entry is about: an entry of an older Route of the same name is not this one's. */
  readonly uid?: string;
  readonly state: string;
  readonly reason?: string;
  readonly message?: string;
  readonly activeGateways?: readonly string[];
  readonly observedGeneration?: number;
  /** When the state last changed. */
  readonly since?: string;
}

/** A RouteReport as the controller reads it. */
export interface RouteReport {
  readonly nodeName: string;
  readonly routes: Readonly<Record<string, ReportEntry>>;
}

/** The heartbeat Lease's name for a node; undefined when the node name is too long for it (253 characters). */
export function nodeLeaseName(nodeName: string): string | undefined {
  const name = `${NODE_LEASE_PREFIX}${nodeName}`;
  return name.length <= 253 ? name : undefined;
}

/** The node a heartbeat Lease belongs to, or undefined when it is not one. */
export function leaseNode(leaseName: string): string | undefined {
  return leaseName.startsWith(NODE_LEASE_PREFIX) && leaseName.length > NODE_LEASE_PREFIX.length ? leaseName.slice(NODE_LEASE_PREFIX.length) : undefined;
}

/** The report entry for a reconciler's status (the node name is the report's, not the entry's). */
export function reportEntryOf(s: RouteNodeStatus, uid?: string): ReportEntry {
  const out: Record<string, unknown> = { state: s.state };
  if (uid) out.uid = uid;
  if (s.reason) out.reason = s.reason;
  if (s.message) out.message = s.message.length > 1024 ? `${s.message.slice(0, 1021)}...` : s.message;
  if (s.activeGateways?.length) out.activeGateways = [...s.activeGateways].sort();
  if (s.observedGeneration !== undefined) out.observedGeneration = s.observedGeneration;
  if (s.lastTransitionTime) out.since = s.lastTransitionTime;
  return out as unknown as ReportEntry;
}

/** True when two entries say the same. */
export function sameReportEntry(a: ReportEntry | undefined, b: ReportEntry | undefined): boolean {
  if (!a || !b) return a === b;
  const key = (e: ReportEntry) => JSON.stringify([e.uid, e.state, e.reason, e.message, [...(e.activeGateways ?? [])].sort(), e.observedGeneration, e.since]);
  return key(a) === key(b);
}

/** Counts a report shows in its printer columns (computed by its one writer). */
export interface ReportCounts {
  readonly routes: number;
  readonly applied: number;
  readonly problems: number;
}

/** The counts over a report's entries. */
export function reportCounts(routes: Readonly<Record<string, ReportEntry>>): ReportCounts {
  let applied = 0;
  let problems = 0;
  const all = Object.values(routes);
  for (const e of all) {
    if (e.state === 'Applied') applied++;
    else if (e.state !== 'Removing') problems++;
  }
  return { routes: all.length, applied, problems };
}

/**
 * The JSON merge patch (RFC 7386) that turns `before` into `after`: changed entries in full, removed ones null,
 * and the new counts. Undefined when nothing changed. Only the node's agent writes its report, so a patch of the
 * difference never races another writer.
 */
export function reportMergePatch(before: Readonly<Record<string, ReportEntry>>, after: Readonly<Record<string, ReportEntry>>): Record<string, unknown> | undefined {
  const routes: Record<string, ReportEntry | null> = {};
  let changed = false;
  for (const [k, v] of Object.entries(after)) {
    if (!sameReportEntry(before[k], v)) {
      routes[k] = v;
      changed = true;
    }
  }
  for (const k of Object.keys(before)) {
    if (!(k in after)) {
      routes[k] = null;
      changed = true;
    }
  }
  if (!changed) return undefined;
  return { status: { routes, counts: reportCounts(after) } };
}

/** A new report object (created by the agent on its first write), owned by its Node when the uid is known. */
export function reportObject(nodeName: string, nodeUid: string | undefined, routes: Readonly<Record<string, ReportEntry>>): Record<string, unknown> {
  return {
    apiVersion: REPORT_API_VERSION,
    kind: REPORT_KIND,
    metadata: {
      name: nodeName,
      labels: commonLabels('report', KROUTE_VERSION),
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] } : {}),
    },
    status: { routes, counts: reportCounts(routes) },
  };
}

/** The heartbeat Lease as its agent applies it (server-side apply; owned by the Node when the uid is known). */
export function nodeLeaseBody(namespace: string, nodeName: string, nodeUid: string | undefined, renewTime: string, timing: LeaseTiming = DEFAULT_LEASE_TIMING): Record<string, unknown> {
  const name = nodeLeaseName(nodeName);
  if (!name) throw new Error(`node name ${JSON.stringify(nodeName)} is too long for a heartbeat Lease (at most ${253 - NODE_LEASE_PREFIX.length} characters)`);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name,
      namespace,
      labels: commonLabels('heartbeat', KROUTE_VERSION),
      ...(nodeUid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] } : {}),
    },
    spec: { holderIdentity: nodeName, leaseDurationSeconds: timing.durationSeconds, renewTime },
  };
}

/** The RouteReport CRD: cluster-scoped, no status subresource (its one writer writes the whole object). */
export function routeReportCrd(opts: { readonly labels?: Readonly<Record<string, string>> } = {}): Manifest {
  const entry = {
    type: 'object',
    required: ['state'],
    properties: {
      uid: { type: 'string', maxLength: 64 },
      state: { type: 'string', enum: [...REPORT_STATES] },
      reason: { type: 'string', maxLength: 128 },
      message: { type: 'string', maxLength: 1024 },
      activeGateways: { type: 'array', maxItems: LIMITS.gateways, items: { type: 'string', maxLength: LIMITS.ipLength } },
      observedGeneration: { type: 'integer', format: 'int64' },
      since: { type: 'string', format: 'date-time' },
    },
  };
  const count = (description: string) => ({ type: 'integer', minimum: 0, description });
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${REPORT_PLURAL}.${REPORT_GROUP}`, labels: { ...commonLabels('crd', KROUTE_VERSION), ...(opts.labels ?? {}) } },
    spec: {
      group: REPORT_GROUP,
      scope: 'Cluster',
      names: { kind: REPORT_KIND, listKind: `${REPORT_KIND}List`, plural: REPORT_PLURAL, singular: 'routereport', shortNames: ['rrep'], categories: ['kroute'] },
      versions: [
        {
          name: REPORT_VERSION,
          served: true,
          storage: true,
          additionalPrinterColumns: [
            { name: 'Routes', type: 'integer', jsonPath: '.status.counts.routes', description: 'Routes this node holds or reports' },
            { name: 'Applied', type: 'integer', jsonPath: '.status.counts.applied', description: 'Routes applied with every gateway up' },
            { name: 'Problems', type: 'integer', jsonPath: '.status.counts.problems', description: 'Routes degraded, failed or invalid on this node' },
            { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
          ],
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: 'What one node holds, written only by that node\'s kroute agent; named after the Node and owned by it.',
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                status: {
                  type: 'object',
                  properties: {
                    routes: {
                      type: 'object',
                      maxProperties: REPORT_ENTRIES_MAX,
                      additionalProperties: entry,
                      // One writer (the node's agent): tracked as one field, not one per entry (docs/status.md, "What it costs").
                      'x-kubernetes-map-type': 'atomic',
                      description: 'One entry per Route this node holds, by Route name.',
                    },
                    counts: { type: 'object', properties: { routes: count('entries'), applied: count('Applied entries'), problems: count('Degraded, Failed or Invalid entries') } },
                  },
                },
              },
            },
          },
        },
      ],
    },
  };
}

// ---- The controller's decisions ----

/** What the controller knows of one node. */
export interface NodeLiveness {
  /** The Node object exists. */
  readonly exists: boolean;
  /** The agent's Lease was seen renewed within its duration (see {@link agentLive}). */
  readonly live: boolean;
  /** When the agent stops counting as live unless its Lease is renewed (ms); undefined when not live. */
  readonly expiresAtMs?: number;
}

/**
 * True while the controller saw the Lease change less than its duration ago. The controller's own clock times the
 * observation (as the node lifecycle controller does with node Leases), so clock skew between nodes does not count.
 */
export function agentLive(lastRenewSeenMs: number | undefined, durationSeconds: number, nowMs: number): boolean {
  return lastRenewSeenMs !== undefined && nowMs - lastRenewSeenMs < durationSeconds * 1000;
}

/** A Route as the controller's decisions need it. */
export interface RouteFacts {
  readonly name: string;
  readonly uid?: string;
  readonly generation?: number;
  readonly deleting: boolean;
  readonly finalizers: readonly string[];
  /** The Ready condition the object shows (its lastTransitionTime is kept while the status stays). */
  readonly ready?: { readonly status: string; readonly reason?: string; readonly message?: string; readonly lastTransitionTime?: string; readonly observedGeneration?: number };
  readonly appliedNodes?: number;
  readonly selectedNodes?: number;
  /** When the Route was created (ms), if known: a Route younger than a few seconds is not yet called NoNodes. */
  readonly createdMs?: number;
}

/** One node's entry for a Route, with what is known of the node. */
export interface NodeEntry {
  readonly nodeName: string;
  readonly entry: ReportEntry;
  readonly node: NodeLiveness;
}

/** The entries of every report about this Route (same name, and same uid when both have one); Nodes gone are left out. */
export function entriesFor(route: Pick<RouteFacts, 'name' | 'uid'>, reports: Iterable<RouteReport>, liveness: (nodeName: string) => NodeLiveness): NodeEntry[] {
  const out: NodeEntry[] = [];
  for (const r of reports) {
    const e = r.routes[route.name];
    if (!e) continue;
    if (route.uid && e.uid && e.uid !== route.uid) continue;
    const node = liveness(r.nodeName);
    if (!node.exists) continue;
    out.push({ nodeName: r.nodeName, entry: e, node });
  }
  return out.sort((a, b) => (a.nodeName < b.nodeName ? -1 : a.nodeName > b.nodeName ? 1 : 0));
}

/** A Route's summary as the controller writes it. */
export interface RouteSummary {
  readonly appliedNodes: number;
  readonly selectedNodes: number;
  readonly ready: { readonly type: 'Ready'; readonly status: 'True' | 'False'; readonly reason: string; readonly message: string; readonly lastTransitionTime: string; readonly observedGeneration?: number };
  /** Nodes not done (not applied at this generation, degraded, failed, invalid, agent down), at most SUMMARY_NODES_MAX. */
  readonly nodes: readonly RouteNodeStatus[];
}

function listNames(names: readonly string[], max = 5): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/**
 * The summary over the nodes' entries. selected = nodes reporting the Route; applied = Applied or Degraded at the
 * current generation on a live agent. Ready is False with the first reason that applies (Invalid, Failed,
 * AgentDown, Progressing, NoNodes), True with Degraded or Applied. `now` stamps a transition.
 */
export function summarizeRoute(route: RouteFacts, entries: readonly NodeEntry[], now: string): RouteSummary {
  const gen = route.generation;
  const current = (e: ReportEntry) => gen === undefined || e.observedGeneration === undefined || e.observedGeneration >= gen;
  const isApplied = (x: NodeEntry) => x.node.live && (x.entry.state === 'Applied' || x.entry.state === 'Degraded') && current(x.entry);
  const names = (pred: (x: NodeEntry) => boolean) => entries.filter(pred).map((x) => x.nodeName);
  const applied = entries.filter(isApplied);
  const invalid = names((x) => x.entry.state === 'Invalid');
  const failed = names((x) => x.entry.state === 'Failed');
  const down = names((x) => !x.node.live);
  const pending = names((x) => x.node.live && !isApplied(x) && x.entry.state !== 'Invalid' && x.entry.state !== 'Failed');
  const degraded = names((x) => isApplied(x) && x.entry.state === 'Degraded');
  let status: 'True' | 'False';
  let reason: string;
  let message: string;
  if (invalid.length) [status, reason, message] = ['False', 'Invalid', `invalid on ${listNames(invalid)}`];
  else if (failed.length) [status, reason, message] = ['False', 'Failed', `failed on ${listNames(failed)}`];
  else if (down.length) [status, reason, message] = ['False', 'AgentDown', `no heartbeat from the agent on ${listNames(down)}`];
  else if (pending.length) [status, reason, message] = ['False', 'Progressing', `not yet applied on ${listNames(pending)}`];
  else if (!entries.length) [status, reason, message] = ['False', 'NoNodes', 'no node reports the route'];
  else if (degraded.length) [status, reason, message] = ['True', 'Degraded', `applied on ${applied.length} of ${entries.length} nodes; gateways down on ${listNames(degraded)}`];
  else [status, reason, message] = ['True', 'Applied', `applied on ${applied.length} of ${entries.length} nodes`];
  const prev = route.ready;
  const lastTransitionTime = prev && prev.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
  const notDone = entries.filter((x) => !isApplied(x) || x.entry.state === 'Degraded').slice(0, SUMMARY_NODES_MAX);
  const nodes = notDone.map((x): RouteNodeStatus => {
    const e = x.entry;
    // The Route CRD's state enum has no Unknown: a dead agent's last state stays, the reason says it is stale.
    return {
      nodeName: x.nodeName,
      state: e.state,
      ...(x.node.live ? (e.reason ? { reason: e.reason } : {}) : { reason: 'AgentDown' }),
      ...(x.node.live ? (e.message ? { message: e.message } : {}) : { message: 'no heartbeat from the agent; last reported state' }),
      ...(e.activeGateways?.length ? { activeGateways: [...e.activeGateways] } : {}),
      ...(e.observedGeneration !== undefined ? { observedGeneration: e.observedGeneration } : {}),
      ...(e.since ? { lastTransitionTime: e.since } : {}),
    };
  });
  return {
    appliedNodes: applied.length,
    selectedNodes: entries.length,
    ready: { type: 'Ready', status, reason, message, lastTransitionTime, ...(gen !== undefined ? { observedGeneration: gen } : {}) },
    nodes,
  };
}

/**
 * True when the Route already shows `s`'s counts and Ready condition. The nodes list is compared by the caller with
 * what it last wrote: the object's list also holds items of other field managers (agents of the older design).
 */
export function summaryShown(route: RouteFacts, s: RouteSummary): boolean {
  const p = route.ready;
  return (
    route.appliedNodes === s.appliedNodes &&
    route.selectedNodes === s.selectedNodes &&
    p !== undefined &&
    p.status === s.ready.status &&
    p.reason === s.ready.reason &&
    p.message === s.ready.message &&
    p.observedGeneration === s.ready.observedGeneration
  );
}

/** The server-side apply body of the summary (field manager {@link CONTROLLER_FIELD_MANAGER}, status subresource). */
export function summaryApplyBody(routeName: string, s: RouteSummary): Record<string, unknown> {
  return {
    apiVersion: ROUTE_API_VERSION,
    kind: ROUTE_KIND,
    metadata: { name: routeName },
    status: { appliedNodes: s.appliedNodes, selectedNodes: s.selectedNodes, conditions: [{ ...s.ready }], nodes: s.nodes.map((n) => ({ ...n })) },
  };
}

/** What to do about a Route's finalizer. */
export type FinalizerAction =
  | { readonly kind: 'none' }
  | { readonly kind: 'add' }
  | { readonly kind: 'release'; readonly skipped: readonly string[] }
  | { readonly kind: 'wait'; readonly on: readonly string[]; readonly recheckAtMs?: number };

/**
 * The finalizer rule. A Route not being deleted gets the controller's finalizer. A Route being deleted keeps it
 * while a live agent still reports it (that node still has its routes in the kernel, or is removing them); agents
 * whose Lease expired and nodes that are gone are not waited for (they prune the routes when they come back:
 * routes of kroute's protocol whose Route is gone are orphans). `recheckAtMs` is when the first awaited agent
 * would stop counting as live, so a death while waiting releases without another event.
 */
export function finalizerAction(route: RouteFacts, entries: readonly NodeEntry[]): FinalizerAction {
  const has = route.finalizers.includes(ROUTE_FINALIZER);
  if (!route.deleting) return has ? { kind: 'none' } : { kind: 'add' };
  if (!has) return { kind: 'none' };
  const waiting = entries.filter((x) => x.node.live);
  if (!waiting.length) return { kind: 'release', skipped: entries.map((x) => x.nodeName) };
  const expiries = waiting.map((x) => x.node.expiresAtMs).filter((t): t is number => t !== undefined);
  return { kind: 'wait', on: waiting.map((x) => x.nodeName), ...(expiries.length ? { recheckAtMs: Math.min(...expiries) } : {}) };
}

/** Server-side apply body that makes the controller's manager own the finalizer (the uid refuses a recreated namesake). */
export function finalizerApplyBody(routeName: string, uid: string | undefined): Record<string, unknown> {
  return { apiVersion: ROUTE_API_VERSION, kind: ROUTE_KIND, metadata: { name: routeName, ...(uid ? { uid } : {}), finalizers: [ROUTE_FINALIZER] } };
}

/** JSON patch removing the controller's finalizer, guarded by a `test` at its index (a concurrent change fails it). */
export function finalizerRemovePatch(finalizers: readonly string[]): { op: 'test' | 'remove'; path: string; value?: unknown }[] {
  const i = finalizers.indexOf(ROUTE_FINALIZER);
  if (i < 0) return [];
  return [
    { op: 'test', path: `/metadata/finalizers/${i}`, value: ROUTE_FINALIZER },
    { op: 'remove', path: `/metadata/finalizers/${i}` },
  ];
}
