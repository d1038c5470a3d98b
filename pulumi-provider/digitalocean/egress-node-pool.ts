/**
 * Per-workload static egress on DOKS. Routes are per node, so per-workload egress is per node pool: a dedicated
 * pool, labelled and tainted, whose nodes alone get the StaticEgress Route; the workloads that need the static
 * IP select the label and tolerate the taint, and everything else keeps the nodes' own egress.
 */
import * as pulumi from '@pulumi/pulumi';
import * as digitalocean from '@pulumi/digitalocean';
import { EgressScope } from '../../core/index.js';
import { failOn } from '../errors.js';
import { StaticEgress } from '../static-egress.js';
import { gatewayCountErrors, intInRange } from './checks.js';
import { TaintEffect } from './node-pool.js';

/** Label (and taint key) that marks kroute's egress node pools. */
export const EGRESS_POOL_LABEL = 'kroute.io/egress-pool';

/** Args of an EgressNodePool. */
export interface EgressNodePoolArgs {
  /** The DOKS cluster's id. */
  readonly clusterId: pulumi.Input<string>;
  /** Pool name (also the value of the label and taint). */
  readonly poolName: string;
  /** Droplet size slug of the pool's nodes. */
  readonly size: string;
  /** Number of nodes. @default 2 */
  readonly nodeCount?: number;
  /** Gateways of the pool's static egress (NAT gateway or gateway Droplets). */
  readonly gateways: pulumi.Input<pulumi.Input<string>[]>;
  /** Destinations sent through the gateways. @default ["0.0.0.0/0"] */
  readonly destinations?: pulumi.Input<pulumi.Input<string>[]>;
  /** Taint the pool so that only workloads that tolerate it land there. @default true */
  readonly taint?: boolean;
}

/** A dedicated egress node pool and the StaticEgress Route that only its nodes get. */
export class EgressNodePool extends pulumi.ComponentResource {
  /** The node pool's id. */
  readonly nodePoolId: pulumi.Output<string>;
  /** Label key workloads select (value: the pool name). */
  readonly nodeLabelKey: pulumi.Output<string>;
  /** Taint key workloads tolerate (value: the pool name, effect NoSchedule); empty without taint. */
  readonly taintKey: pulumi.Output<string>;
  /** Name of the Route. */
  readonly routeName: pulumi.Output<string>;

  constructor(name: string, args: EgressNodePoolArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kroute:index:EgressNodePool', name, {}, opts);
    const nodeCount = args.nodeCount ?? 2;
    failOn(`EgressNodePool "${name}"`, intInRange('args.nodeCount', nodeCount, 1, 512, 'nodes in the pool'), this);
    if (Array.isArray(args.gateways)) failOn(`EgressNodePool "${name}"`, gatewayCountErrors('args.gateways', args.gateways.length), this);
    const taint = args.taint ?? true;
    const pool = new digitalocean.KubernetesNodePool(`${name}-pool`, {
      clusterId: args.clusterId,
      name: args.poolName,
      size: args.size,
      nodeCount,
      labels: { [EGRESS_POOL_LABEL]: args.poolName },
      ...(taint ? { taints: [{ key: EGRESS_POOL_LABEL, value: args.poolName, effect: TaintEffect.NO_SCHEDULE }] } : {}),
    }, { parent: this });
    const egress = new StaticEgress(`${name}-egress`, {
      gateways: args.gateways,
      ...(args.destinations ? { destinations: args.destinations } : {}),
      scope: EgressScope.NODE_POOLS,
      nodePools: [args.poolName],
    }, { parent: this, dependsOn: [pool] });
    this.nodePoolId = pool.id;
    this.nodeLabelKey = pulumi.output(EGRESS_POOL_LABEL);
    this.taintKey = pulumi.output(taint ? EGRESS_POOL_LABEL : '');
    this.routeName = egress.routeName;
    this.registerOutputs({ nodePoolId: this.nodePoolId, nodeLabelKey: this.nodeLabelKey, taintKey: this.taintKey, routeName: this.routeName });
  }
}
