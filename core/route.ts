/**
 * The Route API, as DigitalOcean's managed routing agent defines it
 * (https://docs.digitalocean.com/products/kubernetes/how-to/use-routing-agent/). kroute keeps the group, version
 * and kind so that its Route objects work unchanged with the managed agent.
 */

/** API group of Route objects (DigitalOcean's, kept for compatibility). */
export const ROUTE_GROUP = 'networking.doks.digitalocean.com';
/** API version of Route objects. */
export const ROUTE_VERSION = 'v1alpha1';
/** `apiVersion` of Route objects. */
export const ROUTE_API_VERSION = `${ROUTE_GROUP}/${ROUTE_VERSION}`;
/** `kind` of Route objects. */
export const ROUTE_KIND = 'Route';
/** Plural resource name. */
export const ROUTE_PLURAL = 'routes';
/** Short name for kubectl. */
export const ROUTE_SHORT_NAME = 'rt';

/** Operators a node-selector requirement may use (the four DigitalOcean documents). */
export const NODE_SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;
/** One of {@link NODE_SELECTOR_OPERATORS}. */
export type NodeSelectorOperator = (typeof NODE_SELECTOR_OPERATORS)[number];

/** core/v1 NodeSelectorRequirement. */
export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: NodeSelectorOperator;
  readonly values?: readonly string[];
}

/** core/v1 NodeSelectorTerm: its requirements are ANDed. */
export interface NodeSelectorTerm {
  readonly matchExpressions?: readonly NodeSelectorRequirement[];
  /** Only `metadata.name` is supported as a field key. */
  readonly matchFields?: readonly NodeSelectorRequirement[];
}

/** core/v1 NodeSelector: its terms are ORed. */
export interface NodeSelector {
  readonly nodeSelectorTerms: readonly NodeSelectorTerm[];
}

/** What a Route asks for. */
export interface RouteSpec {
  /** Destination CIDRs; `0.0.0.0/0` or `::/0` overrides the default route. */
  readonly destinations: readonly string[];
  /** Next-hop addresses; several make one equal-cost multipath route. */
  readonly gateways: readonly string[];
  /** Which nodes get the route; all nodes when absent. */
  readonly nodeSelector?: NodeSelector;
}

/**
 * A Route's state on one node: one list for the planner's outcomes, the CRD's status enum and the summary.
 * Applied: in the kernel through every gateway; Degraded: in the kernel, with gateways down (out of rotation, or all
 * down and kept); NotSelected: the node is not selected; Invalid: the spec was refused; Failed: not in the kernel
 * (the reason says why); Removing: being deleted, its routes leaving the node.
 */
export const ROUTE_NODE_STATES = ['Applied', 'NotSelected', 'Invalid', 'Failed', 'Removing', 'Degraded'] as const;

/** One of {@link ROUTE_NODE_STATES}. */
export type RouteNodeState = (typeof ROUTE_NODE_STATES)[number];

/** The states in which the node holds the Route's routes in the kernel. */
export const IN_KERNEL_STATES: ReadonlySet<string> = new Set<RouteNodeState>(['Applied', 'Degraded']);

/** One node's view of a Route, written by that node's agent only. */
export interface RouteNodeStatus {
  readonly nodeName: string;
  /** One of {@link ROUTE_NODE_STATES} (a string: entries are read back from the API server). */
  readonly state: string;
  readonly reason?: string;
  readonly message?: string;
  /** Gateways currently in rotation on that node. */
  readonly activeGateways?: readonly string[];
  readonly observedGeneration?: number;
  readonly lastTransitionTime?: string;
}

/** A standard Kubernetes condition. */
export interface Condition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

/** Status of a Route: one entry per node that has something to say. */
export interface RouteStatus {
  readonly nodes?: readonly RouteNodeStatus[];
  readonly conditions?: readonly Condition[];
}

/** Object metadata kroute reads and writes. */
export interface ObjectMeta {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly uid?: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly deletionTimestamp?: string;
  readonly finalizers?: readonly string[];
}

/** A Route custom resource. */
export interface Route {
  readonly apiVersion: typeof ROUTE_API_VERSION;
  readonly kind: typeof ROUTE_KIND;
  readonly metadata: ObjectMeta;
  readonly spec: RouteSpec;
  readonly status?: RouteStatus;
}

/** Builds a Route object from a name and spec (no validation: see `validateRoute`). */
export function routeObject(name: string, spec: RouteSpec, meta: Omit<ObjectMeta, 'name'> = {}): Route {
  return { apiVersion: ROUTE_API_VERSION, kind: ROUTE_KIND, metadata: { name, ...meta }, spec };
}
