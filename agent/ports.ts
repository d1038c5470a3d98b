/**
 * The agent's seams. A source says what Routes exist and what this node looks like; the reconciler plans (pure)
 * and applies (kernel adapter); a reporter tells the world. Sources: the Kubernetes API (informers) or a file or
 * folder of YAML. Both feed the same reconciler through these interfaces.
 */
import type { NodeFacts, RouteNodeStatus } from '../core/index.js';

/** A Route as the source saw it: the raw object (validated by the reconciler), and whether it is being deleted. */
export interface SourcedRoute {
  readonly name: string;
  /** The object as read (YAML file or API server), unvalidated. */
  readonly object: unknown;
  /** True when metadata.deletionTimestamp is set: remove its routes, then release it. */
  readonly deleting: boolean;
  readonly generation?: number;
  /** metadata.uid, when the source has one: with the generation it names one version of the spec. */
  readonly uid?: string;
}

/** Everything a source knows at one moment. */
export interface SourceSnapshot {
  readonly routes: readonly SourcedRoute[];
  readonly node: NodeFacts;
  /** Problems reading the source (a YAML file that does not parse, say), reported but not fatal. */
  readonly problems: readonly { readonly subject: string; readonly message: string }[];
}

/** Where Routes come from. */
export interface RouteSource {
  /** Starts watching; `onChange` gets a full snapshot each time something changes. */
  start(onChange: (snapshot: SourceSnapshot) => void): Promise<void>;
  /** True once the source has listed everything at least once (readiness). */
  readonly synced: boolean;
  /** True while the source can reach its backend (API server reachable). */
  readonly connected: boolean;
  stop(): Promise<void>;
}

/** A Kubernetes Event the agent emits. */
export interface AgentEvent {
  readonly routeName: string;
  readonly type: 'Normal' | 'Warning';
  /** CamelCase reason, e.g. GatewayDown, InvalidRoute, KernelError, OverrideRolledBack. */
  readonly reason: string;
  readonly message: string;
}

/** Where the agent reports per-node status, events and finalizer release. */
export interface Reporter {
  /** This node's status entry for one Route (idempotent; only changes are written). */
  status(routeName: string, status: RouteNodeStatus): Promise<void>;
  /**
   * The Route does not select this node: this node has no status entry on it, and an earlier one is removed
   * (hundreds of nodes each writing `NotSelected` on every Route would be nodes × Routes writes). `status` says
   * why, for reporters that log rather than write. Idempotent.
   */
  clear(routeName: string, status: RouteNodeStatus): Promise<void>;
  event(e: AgentEvent): Promise<void>;
  /** The node holds a Route's routes: make sure deletion waits for this node (finalizer). */
  hold(routeName: string): Promise<void>;
  /** The node no longer holds any route of a Route being deleted: let deletion proceed. */
  release(routeName: string): Promise<void>;
}

/** The API server as the default-route override's safety sees it. */
export interface ControlPlane {
  /** The real API server endpoints (not the Service ClusterIP), kept on the node's original gateway during an override. */
  addresses(): Promise<readonly string[]>;
  /**
   * Calls `onChange` whenever the addresses change (an Endpoints informer), so the dataplane keeps them cached and
   * never asks the API server on its path. Optional: without it the addresses are read at start and at each resync.
   */
  watch?(onChange: (addresses: readonly string[]) => void): void;
  /** True when the API server answers within `timeoutMs` (confirms an override; see docs on rollback). */
  reachable(timeoutMs: number): Promise<boolean>;
}

/** What the Kubernetes face (agent/kube) gives the agent: Routes and Node in, status and events out. */
export interface KubeFace {
  readonly source: RouteSource;
  readonly reporter: Reporter;
  readonly controlPlane: ControlPlane;
}
