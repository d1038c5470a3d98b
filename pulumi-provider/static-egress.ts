/** The `StaticEgress` component: the cluster half of static egress, the core's presets as one Route. */
import * as pulumi from '@pulumi/pulumi';
import { EgressScope, egressSelector, staticEgressRoute } from '../core/index.js';
import { awaitLateChecks, failOn } from './errors.js';
import { routeResource, resolveRoute } from './route-spec.js';
import { coreSelector, type NodeSelectorArgs } from './selectors.js';

export { EgressScope };

/** Args of a StaticEgress; the same presets as the cdk8s `StaticEgress` construct. */
export interface StaticEgressArgs {
  /** Object name of the Route. @default the component's name */
  readonly routeName?: string;
  /** Gateway addresses: a VPC NAT gateway's `gatewayIp`, or gateway Droplets' private IPs (several: ECMP). */
  readonly gateways: pulumi.Input<pulumi.Input<string>[]>;
  /** Destinations sent through the gateways. @default ["0.0.0.0/0"], all outbound traffic */
  readonly destinations?: pulumi.Input<pulumi.Input<string>[]>;
  /** Which nodes. @default EgressScope.ALL_NODES */
  readonly scope?: EgressScope;
  /** Node pools for NODE_POOLS and EXCEPT_NODE_POOLS. @default [] */
  readonly nodePools?: string[];
  /** Selector for EgressScope.SELECTOR. @default none */
  readonly nodeSelector?: NodeSelectorArgs;
  /**
   * Whether the cluster is VPC-native. DigitalOcean warns that overriding the default route on a cluster that is
   * not VPC-native and serves a network load balancer breaks that load balancer's traffic.
   * @default true
   */
  readonly vpcNativeCluster?: boolean;
  /** Whether the cluster serves a network load balancer (see `vpcNativeCluster`). @default false */
  readonly networkLoadBalancer?: boolean;
}

/** A default-route override (or selected destinations) through static-egress gateways, as one Route. */
export class StaticEgress extends pulumi.ComponentResource {
  /** The Route's object name. */
  readonly routeName: pulumi.Output<string>;
  /** Gateways in canonical form. */
  readonly gateways: pulumi.Output<string[]>;
  /** Destinations in canonical form. */
  readonly destinations: pulumi.Output<string[]>;

  /** Waits for the checks of values known only at deployment, so what depends on this fails with their error. */
  protected override async initialize(): Promise<unknown> {
    await awaitLateChecks(this);
    return undefined;
  }

  constructor(name: string, args: StaticEgressArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kroute:index:StaticEgress', name, {}, opts);
    const subject = `StaticEgress "${name}"`;
    const objectName = args.routeName ?? name;
    const selection = {
      ...(args.scope ? { scope: args.scope } : {}),
      ...(args.nodePools ? { nodePools: args.nodePools } : {}),
      ...(args.nodeSelector ? { nodeSelector: coreSelector(args.nodeSelector) } : {}),
    };
    // The scope never depends on Outputs: check it now even when the gateways are not known yet.
    failOn(subject, egressSelector({ gateways: [], ...selection }, 'args').errors, this);
    const r = resolveRoute(subject, this, { destinations: args.destinations ?? ['0.0.0.0/0'], gateways: args.gateways }, (destinations, gateways) =>
      staticEgressRoute(objectName, { gateways, destinations, ...selection }),
    );
    routeResource(name, r, { name: objectName }, { parent: this });
    this.routeName = pulumi.output(objectName);
    this.gateways = r.route.apply((x) => [...x.spec.gateways]);
    this.destinations = r.route.apply((x) => [...x.spec.destinations]);
    this.warnOnNlbOverride(name, args);
    this.registerOutputs({ routeName: this.routeName, gateways: this.gateways, destinations: this.destinations });
  }

  private warnOnNlbOverride(name: string, args: StaticEgressArgs): void {
    const scope = args.scope ?? EgressScope.ALL_NODES;
    if ((args.vpcNativeCluster ?? true) || !(args.networkLoadBalancer ?? false) || scope === EgressScope.EXCEPT_NODE_POOLS) return;
    this.destinations.apply((ds) => {
      if (ds.includes('0.0.0.0/0') || ds.includes('::/0')) {
        void pulumi.log.warn(
          `StaticEgress "${name}": overriding the default route on a cluster that is not VPC-native and serves a ` +
            'network load balancer breaks that load balancer (DigitalOcean: https://docs.digitalocean.com/products/kubernetes/how-to/use-routing-agent/). ' +
            'Keep the load balancer\'s nodes out with scope EXCEPT_NODE_POOLS, or use a VPC-native cluster.',
          this,
        );
      }
      return ds;
    });
  }
}
