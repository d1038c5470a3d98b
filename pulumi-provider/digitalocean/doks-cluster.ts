/**
 * A DOKS cluster ready for static egress: a VPC-native KubernetesCluster in a VPC, with DigitalOcean's managed
 * routing agent (`routingAgent: {enabled: true}`) or, by choice, kroute's bundled agent, never both.
 */
import * as pulumi from '@pulumi/pulumi';
import * as digitalocean from '@pulumi/digitalocean';
import * as k8s from '@pulumi/kubernetes';
import { fieldError, type FieldError } from '../../core/index.js';
import type { AgentManifestArgs } from '../agent-args.js';
import { awaitLateChecks, failOn } from '../errors.js';
import { RoutingAgent } from '../routing-agent.js';
import { overlapErrors, regionChecked, vpcRangeErrors } from './checks.js';
import { nodePoolInput, type DoksNodePoolArgs } from './node-pool.js';

/** Args of a DoksCluster. */
export interface DoksClusterArgs {
  /** Region slug, e.g. "fra1". */
  readonly region: string;
  /** DOKS version slug. DigitalOcean's reference architecture pins 1.33 because of a routing-agent bug it reports in 1.34.x. */
  readonly version: pulumi.Input<string>;
  /** An existing VPC; none is created then. @default a new VPC with `vpcIpRange` */
  readonly vpcUuid?: pulumi.Input<string>;
  /** The region of `vpcUuid` when it comes from elsewhere; must equal `region`. @default not checked */
  readonly vpcRegion?: pulumi.Input<string>;
  /** The VPC's range (of the new VPC, or of `vpcUuid`, for the overlap checks). @default DigitalOcean picks one */
  readonly vpcIpRange?: string;
  /** Pod range of the VPC-native cluster. @default DigitalOcean's default */
  readonly clusterSubnet?: string;
  /** Service range of the VPC-native cluster. @default DigitalOcean's default */
  readonly serviceSubnet?: string;
  /** The default node pool. */
  readonly nodePool: DoksNodePoolArgs;
  /** Enable DigitalOcean's managed routing agent. @default true unless bundledAgent */
  readonly managedRoutingAgent?: boolean;
  /** Install kroute's own agent and CRD instead of DigitalOcean's managed one. @default false */
  readonly bundledAgent?: boolean;
  /** Knobs of the bundled agent (with bundledAgent). @default the core's defaults */
  readonly agent?: AgentManifestArgs;
  /** Highly available control plane. @default false */
  readonly ha?: boolean;
  /** Tags on the cluster. @default [] */
  readonly tags?: string[];
}

/** Errors in the cluster's args that are known before any resource is created. */
export function doksClusterErrors(args: DoksClusterArgs): FieldError[] {
  const errs: FieldError[] = [];
  if ((args.managedRoutingAgent ?? false) && (args.bundledAgent ?? false)) {
    errs.push(fieldError('args.bundledAgent', 'Forbidden', 'cannot be combined with managedRoutingAgent: kroute\'s CRD and agent would collide with DigitalOcean\'s managed agent; choose one', true));
  }
  errs.push(...vpcRangeErrors('args.vpcIpRange', args.vpcIpRange));
  errs.push(...vpcRangeErrors('args.clusterSubnet', args.clusterSubnet));
  errs.push(...vpcRangeErrors('args.serviceSubnet', args.serviceSubnet));
  errs.push(...overlapErrors([
    { field: 'args.vpcIpRange', value: args.vpcIpRange },
    { field: 'args.clusterSubnet', value: args.clusterSubnet },
    { field: 'args.serviceSubnet', value: args.serviceSubnet },
  ]));
  return errs;
}

/** A DOKS cluster in a VPC, with a Kubernetes provider for it and the routing agent of your choice. */
export class DoksCluster extends pulumi.ComponentResource {
  /** The cluster's id. */
  readonly clusterId: pulumi.Output<string>;
  /** The VPC the cluster (and its gateways) live in. */
  readonly vpcUuid: pulumi.Output<string>;
  /** The cluster's region. */
  readonly region: pulumi.Output<string>;
  /** The kubeconfig of the cluster (secret): make a `kubernetes.Provider` of it for Routes and StaticEgress. */
  readonly kubeconfig: pulumi.Output<string>;
  /** True when DigitalOcean's managed routing agent runs the Routes. */
  readonly managedRoutingAgent: pulumi.Output<boolean>;

  /** Waits for the checks of values known only at deployment, so what depends on this fails with their error. */
  protected override async initialize(): Promise<unknown> {
    await awaitLateChecks(this);
    return undefined;
  }

  constructor(name: string, args: DoksClusterArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kroute:index:DoksCluster', name, {}, opts);
    const subject = `DoksCluster "${name}"`;
    const bundled = args.bundledAgent ?? false;
    const managed = args.managedRoutingAgent ?? !bundled;
    // Every check runs before the first resource is registered.
    const region = args.vpcUuid !== undefined ? regionChecked(subject, this, args.region, args.vpcUuid, args.vpcRegion) : undefined;
    failOn(subject, [...doksClusterErrors({ ...args, managedRoutingAgent: managed }), ...(region?.errors ?? [])], this);
    const vpcUuid = region?.vpcUuid ?? new digitalocean.Vpc(`${name}-vpc`, {
      region: args.region,
      ...(args.vpcIpRange ? { ipRange: args.vpcIpRange } : {}),
    }, { parent: this }).id;

    const cluster = new digitalocean.KubernetesCluster(`${name}-cluster`, {
      region: args.region,
      version: args.version,
      vpcUuid,
      ...(args.clusterSubnet ? { clusterSubnet: args.clusterSubnet } : {}),
      ...(args.serviceSubnet ? { serviceSubnet: args.serviceSubnet } : {}),
      nodePool: nodePoolInput(args.nodePool),
      routingAgent: { enabled: managed },
      ha: args.ha ?? false,
      ...(args.tags ? { tags: args.tags } : {}),
    }, { parent: this });
    this.kubeconfig = pulumi.secret(cluster.kubeConfigs.apply((c) => c[0]?.rawConfig ?? ''));
    if (managed || bundled) {
      // Not an output: Pulumi's component analyzer cannot reference a provider resource in the schema.
      const provider = new k8s.Provider(`${name}-k8s`, { kubeconfig: this.kubeconfig }, { parent: this });
      new RoutingAgent(`${name}-agent`, { ...(args.agent ?? {}), managed }, { parent: this, providers: { kubernetes: provider } });
    }
    this.clusterId = cluster.id;
    this.vpcUuid = cluster.vpcUuid;
    this.region = cluster.region;
    this.managedRoutingAgent = pulumi.output(managed);
    this.registerOutputs({
      clusterId: this.clusterId,
      vpcUuid: this.vpcUuid,
      region: this.region,
      kubeconfig: this.kubeconfig,
      managedRoutingAgent: this.managedRoutingAgent,
    });
  }
}
