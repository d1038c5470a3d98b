/** The `StaticEgress` construct: all or selected nodes' outbound traffic through one or more gateway IPs. */
import { Names, type ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { EgressScope, staticEgressRoute, ValidationError } from '../core/index.js';
import { manifestObject } from './cluster-scoped.js';
import { coreSelector } from '../core/face-props.js';
import type { NodeSelector } from './node-selector.js';

export { EgressScope } from '../core/index.js';

/** Props of a StaticEgress; the same presets as the Pulumi component's cluster half. */
export interface StaticEgressProps {
  /** Route object name. @default a DNS-safe name derived from the construct path */
  readonly name?: string;
  /** Gateway addresses: a VPC NAT gateway's gateway IP, or gateway Droplets' private IPs (several: ECMP). */
  readonly gateways: string[];
  /** Destinations sent through the gateways. @default ["0.0.0.0/0"], all outbound traffic */
  readonly destinations?: string[];
  /** Which nodes. @default EgressScope.ALL_NODES */
  readonly scope?: EgressScope;
  /** Node pools for NODE_POOLS and EXCEPT_NODE_POOLS. @default [] */
  readonly nodePools?: string[];
  /** Selector for EgressScope.SELECTOR. @default none */
  readonly nodeSelector?: NodeSelector;
}

/** A default-route override (or selected destinations) through static-egress gateways, as one Route. */
export class StaticEgress extends Construct {
  /** The Route's object name. */
  readonly name: string;
  /** The synthesized Route. */
  readonly apiObject: ApiObject;

  constructor(scope: Construct, id: string, props: StaticEgressProps) {
    super(scope, id);
    this.name = props.name ?? Names.toDnsLabel(this);
    let route;
    try {
      route = staticEgressRoute(this.name, {
        gateways: props.gateways ?? [],
        ...(props.destinations ? { destinations: props.destinations } : {}),
        ...(props.scope ? { scope: props.scope } : {}),
        ...(props.nodePools ? { nodePools: props.nodePools } : {}),
        ...(props.nodeSelector ? { nodeSelector: coreSelector(props.nodeSelector.spec) } : {}),
      });
    } catch (e) {
      if (e instanceof ValidationError) throw new ValidationError(`StaticEgress "${this.node.path}"`, e.errors);
      throw e;
    }
    this.apiObject = manifestObject(this, 'Resource', route, true);
  }
}
