/**
 * The planner's input and output: what the node looks like and what the kernel should hold. Values only; the agent's
 * adapters read the facts and write the result.
 */
import type { FieldError, Result } from '../errors.js';
import type { IpFamily } from '../ip.js';
import type { OverrideFailMode } from '../options.js';
import type { NodeFacts } from '../selector.js';
import type { NormalizedRoute } from '../validate.js';
import type { RouteNodeState } from '../route.js';
import type { Ownership } from './ownership.js';

/** The main routing table's number (`ip route` without `table`). */
export const MAIN_TABLE = 254;

/** A Route as a source saw it (same shape as the agent's SourcedRoute). */
export interface PlanRouteInput {
  readonly name: string;
  /** The object as read, unvalidated. */
  readonly object: unknown;
  /** True when the Route is being deleted: plan nothing for it. */
  readonly deleting: boolean;
  readonly generation?: number;
  /**
   * `validateRoute(object)`, when the caller already has it: the agent validates each Route once per generation,
   * not on every pass (validation was most of a pass at 2,500 Routes). Must be the result for this very object.
   */
  readonly validated?: Result<NormalizedRoute>;
}

/** A next hop as the kernel sees it: a gateway, an interface, or both. */
export interface NextHop {
  readonly gateway?: string;
  readonly dev?: string;
}

/** One of the node's own default routes (never kroute's). */
export interface HostDefaultRoute {
  readonly gateway?: string;
  readonly dev: string;
}

/** What the agent found on the host before planning. */
export interface HostFacts {
  /** The node's own IPv4 default route in the main table (kroute's /1 pair excluded). */
  readonly defaultV4?: HostDefaultRoute;
  /** The node's own IPv6 default route in the main table. */
  readonly defaultV6?: HostDefaultRoute;
  /** The public interface (DigitalOcean: eth0) with its global addresses and the gateway of its default route. */
  readonly publicInterface?: {
    readonly name: string;
    readonly addresses: readonly string[];
    readonly gatewayV4?: string;
    readonly gatewayV6?: string;
  };
  /** Directly connected prefixes (main table, no gateway): addresses inside them need no keep-route. */
  readonly connected?: readonly string[];
  /** Nameservers from resolv.conf. */
  readonly dnsServers: readonly string[];
  /** API server endpoints. */
  readonly controlPlaneAddresses: readonly string[];
  /** Other addresses to keep on the original gateway (metadata service). */
  readonly keepAddresses: readonly string[];
}

/** The part of the agent's configuration the planner reads (`planConfigOf` maps the agent's flags onto it). */
export interface PlanConfig {
  /** kroute's protocol, tables, marks and rule priorities (ownership.ts): the kernel adapter reads the same value. */
  readonly ownership: Ownership;
  readonly symmetricRouting: boolean;
  readonly overrideFailMode: OverrideFailMode;
  /** Address probed through each gateway (forwarding liveness); empty or absent disables it. */
  readonly forwardProbeTarget?: string;
  /** Most gateways probed on this node; the rest are reported and assumed up. @default 64 */
  readonly probeMaxGateways?: number;
}

/** Everything `plan()` decides from. */
export interface PlanInput {
  readonly routes: readonly PlanRouteInput[];
  readonly node: NodeFacts;
  readonly host: HostFacts;
  /** Gateways the prober has taken out of rotation. */
  readonly gatewaysDown: ReadonlySet<string>;
  /** Routes whose default-route override was rolled back (API server unreachable after applying it). */
  readonly overridesRolledBack?: ReadonlySet<string>;
  readonly config: PlanConfig;
}

/** Why a desired route exists. */
export type RoutePurpose = 'route' | 'override' | 'keep' | 'symmetric' | 'probe';

/** A route kroute wants in the kernel; it always carries the ownership protocol. */
export interface DesiredRoute {
  readonly family: IpFamily;
  /** Canonical CIDR. */
  readonly dst: string;
  readonly table: number;
  readonly protocol: number;
  /** One or more next hops; several make an ECMP route. */
  readonly nexthops: readonly NextHop[];
  readonly purpose: RoutePurpose;
  /** The Route this comes from; empty for kroute's own routes (keep, symmetric). */
  readonly routeName: string;
}

/** An ip rule kroute wants. */
export interface DesiredRule {
  readonly family: IpFamily;
  readonly priority: number;
  /** Source prefix, or `all`. */
  readonly src: string;
  /** Firewall mark the rule matches (forwarding probes). */
  readonly fwmark?: number;
  readonly table: number;
  readonly protocol: number;
}

/** A sysctl kroute wants, by its dotted name (`net.ipv4.fib_multipath_hash_policy`). */
export interface DesiredSysctl {
  readonly key: string;
  readonly value: string;
  /** Why kroute sets it (logs). */
  readonly reason: string;
}

/** What happens to one Route on this node. */
export interface RouteOutcome {
  readonly name: string;
  /** The Route's state on this node (core/route.ts ROUTE_NODE_STATES: the CRD's enum, the summary's input). */
  readonly state: RouteNodeState;
  readonly reason: string;
  readonly message: string;
  readonly generation?: number;
  readonly deleting: boolean;
  /** Gateways in the kernel's next-hop set for this Route (up ones; all when every one is down and kept). */
  readonly activeGateways: readonly string[];
  /** Every gateway of the Route when selected (the prober watches them all, down ones too, to see them rise). */
  readonly gateways: readonly string[];
  /** True when the Route overrides the default route and the override is planned. */
  readonly overrideActive: boolean;
  /** Validation errors when Invalid. */
  readonly errors: readonly FieldError[];
  /** Destinations another Route holds (conflict). */
  readonly conflicts: readonly string[];
  /** Destinations refused on this node because they would take a protected address or subnet away (docs/safety.md). */
  readonly refused: readonly RefusedDestination[];
  /** Protected addresses inside this Route's destinations, kept on the node's own path by /32 (/128) keep-routes. */
  readonly kept: readonly string[];
}

/** A destination the planner refused on this node, and why (names the protected address or subnet). */
export interface RefusedDestination {
  readonly destination: string;
  readonly reason: string;
  /** Which rule: inside a connected subnet, or exactly a protected address. */
  readonly kind?: 'connected_subnet' | 'protected_address';
}

/** The whole desired state, and why. */
export interface Plan {
  readonly routes: readonly DesiredRoute[];
  readonly rules: readonly DesiredRule[];
  readonly sysctls: readonly DesiredSysctl[];
  readonly outcomes: readonly RouteOutcome[];
  /** Gateways to probe (selected Routes' gateways, sorted). */
  readonly probeGateways: readonly string[];
  /** Gateways over --probe-max-gateways: not probed, assumed up (also a problem). */
  readonly unprobedGateways?: readonly string[];
  /** Forwarding probes: through `gateway` to `target`, steered by `mark` into `table`. */
  readonly forwardProbes: readonly ForwardProbe[];
  /** Node-level problems (no original gateway to keep addresses on, say). */
  readonly problems: readonly string[];
}

/** One forwarding probe: packets marked `mark` go to `target` through `gateway` (table `table`). */
export interface ForwardProbe {
  readonly gateway: string;
  readonly target: string;
  readonly mark: number;
  readonly table: number;
}
