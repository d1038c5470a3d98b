/**
 * Static egress: the cluster half, shared by the cdk8s and Pulumi faces. A default-route override (or a set of
 * destinations) sent through one or more gateway addresses, on all nodes or the nodes a selector picks.
 */
import { fieldError, unwrap, ValidationError, type FieldError } from './errors.js';
import { routeObject, type NodeSelector, type Route } from './route.js';
import { nodePoolSelector, notNodePoolSelector } from './selectors.js';
import { canonicalSpec, validateRoute } from './validate.js';

/** Which nodes a StaticEgress applies to. */
export enum EgressScope {
  /** Every node of the cluster. */
  ALL_NODES = 'AllNodes',
  /** Only the nodes of the given node pools (a dedicated egress pool: per-workload egress). */
  NODE_POOLS = 'NodePools',
  /** Every node except those of the given node pools (e.g. ingress nodes on a non-VPC-native cluster). */
  EXCEPT_NODE_POOLS = 'ExceptNodePools',
  /** The nodes `nodeSelector` picks. */
  SELECTOR = 'Selector',
}

/** Options of a static egress. */
export interface StaticEgressOptions {
  /** Gateway addresses (a NAT gateway's VPC gateway IP, or gateway Droplets' private IPs). */
  readonly gateways: readonly string[];
  /** Destinations sent through the gateways. @default ["0.0.0.0/0"] (all outbound traffic) */
  readonly destinations?: readonly string[];
  /** @default EgressScope.ALL_NODES */
  readonly scope?: EgressScope;
  /** Node pools for NODE_POOLS / EXCEPT_NODE_POOLS. @default [] */
  readonly nodePools?: readonly string[];
  /** Selector for SELECTOR. */
  readonly nodeSelector?: NodeSelector;
}

/** The node selector a scope means; errors name the field. */
export function egressSelector(o: StaticEgressOptions, path: string): { selector?: NodeSelector; errors: FieldError[] } {
  const scope = o.scope ?? EgressScope.ALL_NODES;
  const pools = [...(o.nodePools ?? [])];
  switch (scope) {
    case EgressScope.ALL_NODES:
      if (o.nodeSelector) return { errors: [fieldError(`${path}.nodeSelector`, 'Forbidden', 'is only used with scope Selector')] };
      return { errors: [] };
    case EgressScope.NODE_POOLS:
    case EgressScope.EXCEPT_NODE_POOLS:
      if (pools.length === 0) return { errors: [fieldError(`${path}.nodePools`, 'Required', `must name at least one node pool for scope ${scope}`)] };
      return { selector: scope === EgressScope.NODE_POOLS ? nodePoolSelector(...pools) : notNodePoolSelector(...pools), errors: [] };
    case EgressScope.SELECTOR:
      if (!o.nodeSelector) return { errors: [fieldError(`${path}.nodeSelector`, 'Required', 'is required for scope Selector')] };
      return { selector: o.nodeSelector, errors: [] };
    default:
      return { errors: [fieldError(`${path}.scope`, 'NotSupported', `must be one of ${Object.values(EgressScope).join(', ')}`, scope)] };
  }
}

/** The Route a static egress is made of, validated and in canonical form; throws ValidationError naming `name`. */
export function staticEgressRoute(name: string, o: StaticEgressOptions): Route {
  const sel = egressSelector(o, 'props');
  const route = routeObject(name, {
    destinations: [...(o.destinations ?? ['0.0.0.0/0'])],
    gateways: [...o.gateways],
    ...(sel.selector ? { nodeSelector: sel.selector } : {}),
  });
  const v = validateRoute(route);
  const errors = [...sel.errors, ...(v.ok ? [] : v.errors)];
  if (errors.length) throw new ValidationError(`StaticEgress "${name}"`, errors);
  return routeObject(name, canonicalSpec(unwrap(name, v)));
}
