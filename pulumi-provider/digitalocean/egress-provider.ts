/**
 * The DigitalOcean NAT strategies as provider objects, chosen the way AWS CDK's `ec2.NatProvider.gateway()` /
 * `NatProvider.instanceV2()` are: `EgressProvider.natGateway()` or `EgressProvider.gatewayDroplets()`. TypeScript
 * only: the multi-language provider cannot carry classes in args, so other languages use the components
 * (NatGatewayEgress, GatewayDropletEgress) directly. Nothing here is listed in plugin/index.ts's COMPONENTS, so
 * Pulumi's schema analyzer never reads it. Cost and availability: docs/egress-patterns.md.
 */
import * as pulumi from '@pulumi/pulumi';
import * as k8s from '@pulumi/kubernetes';
import { egressSelector, fieldError, type FieldError } from '../../core/index.js';
import { ComponentValidationError, failOn } from '../errors.js';
import { coreSelector } from '../selectors.js';
import { StaticEgress, type StaticEgressArgs } from '../static-egress.js';
import { NAT_GATEWAY_SIZES, intInRange, ipv4ListErrors } from './checks.js';
import type { DoksCluster } from './doks-cluster.js';
import { GatewayDropletEgress, gatewayDropletErrors, type GatewayDropletEgressArgs } from './gateway-droplet-egress.js';
import { NatGatewayEgress, type NatGatewayEgressArgs } from './nat-gateway-egress.js';

/** Where the gateways go: the VPC they serve. The same for every strategy. */
export interface EgressPlacement {
  /** Region slug of the VPC, e.g. "fra1". */
  readonly region: string;
  /** The VPC whose traffic leaves through the gateways (the cluster's). */
  readonly vpcUuid: pulumi.Input<string>;
  /** The VPC's region when it comes from elsewhere; must equal `region`. @default not checked */
  readonly vpcRegion?: pulumi.Input<string>;
  /** The VPC's IP range; required by `gatewayDroplets()` (the traffic they source-NAT). @default none */
  readonly vpcIpRange?: string;
}

/** Props of `EgressProvider.natGateway()`: NatGatewayEgressArgs without the placement. */
export type NatGatewayProviderProps = Omit<NatGatewayEgressArgs, 'region' | 'vpcUuid' | 'vpcRegion'>;

/** Props of `EgressProvider.gatewayDroplets()`: GatewayDropletEgressArgs without the placement. */
export type GatewayDropletsProviderProps = Omit<GatewayDropletEgressArgs, 'region' | 'vpcUuid' | 'vpcRegion' | 'vpcIpRange'>;

/** What a provider created: the StaticEgress gateways, the static egress IPs, and the component that holds them. */
export interface ProvisionedEgress {
  /** Private VPC addresses to route through: the StaticEgress gateways. */
  readonly gatewayIps: pulumi.Output<string[]>;
  /** The public IPs traffic leaves from: give them to the partners who allow-list you. */
  readonly egressIps: pulumi.Output<string[]>;
  /** The NatGatewayEgress or GatewayDropletEgress created. */
  readonly component: NatGatewayEgress | GatewayDropletEgress;
}

/** Props errors carry `props.<field>`: the component's own checks name `args.<field>`. */
const asProps = (errs: readonly FieldError[]): FieldError[] => errs.map((e) => ({ ...e, field: e.field.replace(/^args\./, 'props.') }));

/** The placement fields every component takes. */
const vpcOf = (p: EgressPlacement) => ({
  region: p.region,
  vpcUuid: p.vpcUuid,
  ...(p.vpcRegion !== undefined ? { vpcRegion: p.vpcRegion } : {}),
});

/** A static-egress strategy for a DigitalOcean VPC, as an object (like CDK's NatProvider). */
export abstract class EgressProvider {
  /**
   * A managed DigitalOcean VPC NAT gateway (NatGatewayEgress). Availability: DigitalOcean runs it, one gateway IP,
   * no node-side failover needed. Cost: billed per NAT-gateway unit (1 to 16, each about 25 Mbps and 100 GiB a
   * month) and transfer; the default is one unit.
   */
  static natGateway(props: NatGatewayProviderProps = {}): EgressProvider {
    return new NatGatewayProvider(props);
  }

  /**
   * N gateway Droplets, each leaving from its own Reserved IP, ECMP over all (GatewayDropletEgress). Availability:
   * survives the loss of a gateway (nodes drop the dead next hop; flows move to the others); the Droplets are yours
   * to patch and watch. Cost: N Droplets plus transfer (default two `s-1vcpu-1gb`); Reserved IPs are free while
   * assigned, billed while not, and limited to 3 per account by default.
   */
  static gatewayDroplets(props: GatewayDropletsProviderProps = {}): EgressProvider {
    return new GatewayDropletsProvider(props);
  }

  /** Creates the strategy's component named `name` in the VPC of `placement`. */
  abstract provision(name: string, placement: EgressPlacement, opts?: pulumi.ComponentResourceOptions): ProvisionedEgress;
}

class NatGatewayProvider extends EgressProvider {
  constructor(private readonly props: NatGatewayProviderProps) {
    super();
    failOn('EgressProvider.natGateway()', asProps([
      ...intInRange('args.size', props.size, NAT_GATEWAY_SIZES.min, NAT_GATEWAY_SIZES.max, 'the NAT gateway size in units'),
      ...ipv4ListErrors('args.egressIps', props.egressIps),
    ]), undefined);
  }

  provision(name: string, placement: EgressPlacement, opts?: pulumi.ComponentResourceOptions): ProvisionedEgress {
    const component = new NatGatewayEgress(name, { ...this.props, ...vpcOf(placement) }, opts);
    return { gatewayIps: component.gatewayIps, egressIps: component.egressIps, component };
  }
}

class GatewayDropletsProvider extends EgressProvider {
  constructor(private readonly props: GatewayDropletsProviderProps) {
    super();
    // The VPC range is the placement's, not a prop: its check belongs to provision(). A stand-in keeps it quiet here.
    const errs = gatewayDropletErrors({ ...props, region: '', vpcUuid: '', vpcIpRange: '10.0.0.0/8' }, props.count ?? 2);
    failOn('EgressProvider.gatewayDroplets()', asProps(errs), undefined);
  }

  provision(name: string, placement: EgressPlacement, opts?: pulumi.ComponentResourceOptions): ProvisionedEgress {
    const vpcIpRange = placement.vpcIpRange;
    if (vpcIpRange === undefined) {
      throw new ComponentValidationError(`EgressProvider.gatewayDroplets() "${name}"`, [fieldError('placement.vpcIpRange', 'Required', 'gateway Droplets source-NAT and accept the VPC\'s range: give it')], undefined);
    }
    const component = new GatewayDropletEgress(name, { ...this.props, ...vpcOf(placement), vpcIpRange }, opts);
    return { gatewayIps: component.gatewayIps, egressIps: component.egressIps, component };
  }
}

/** Options of addStaticEgress: the StaticEgress's selection, and what the cluster's outputs cannot give now. */
export interface StaticEgressOnDoksOptions extends Omit<StaticEgressArgs, 'gateways'> {
  /** The cluster's region slug; the gateway components need it as a plain value. It is checked against the cluster's. */
  readonly region: string;
  /** The cluster's VPC range (required by `gatewayDroplets()`). @default none */
  readonly vpcIpRange?: string;
  /** Kubernetes provider of the cluster for the Route. @default a new one from the cluster's kubeconfig, `${name}-k8s` */
  readonly kubernetesProvider?: k8s.Provider;
}

/** What addStaticEgress created. */
export interface StaticEgressOnDoks extends ProvisionedEgress {
  /** The StaticEgress whose Route sends the selected nodes' traffic through `gatewayIps`. */
  readonly staticEgress: StaticEgress;
}

/**
 * Wires a strategy to a DoksCluster: provisions `provider` in the cluster's VPC as `name`, and a StaticEgress
 * `${name}-static-egress` through its gateways (`opts` go to the gateway component; the StaticEgress and the
 * Kubernetes provider share only its parent). A plain function, not a component: it takes a class (the provider),
 * which multi-language args cannot carry, and its resources keep the names they would have without it.
 */
export function addStaticEgress(
  name: string,
  cluster: DoksCluster,
  provider: EgressProvider,
  options: StaticEgressOnDoksOptions,
  opts?: pulumi.ComponentResourceOptions,
): StaticEgressOnDoks {
  const { region, vpcIpRange, kubernetesProvider, ...selection } = options;
  // The scope is plain data: check it before the gateways exist, so a bad scope creates nothing.
  failOn(`addStaticEgress "${name}"`, egressSelector({
    gateways: [],
    ...(selection.scope ? { scope: selection.scope } : {}),
    ...(selection.nodePools ? { nodePools: selection.nodePools } : {}),
    ...(selection.nodeSelector ? { nodeSelector: coreSelector(selection.nodeSelector) } : {}),
  }, 'options').errors, undefined);
  const egress = provider.provision(name, {
    region,
    vpcUuid: cluster.vpcUuid,
    vpcRegion: cluster.region,
    ...(vpcIpRange !== undefined ? { vpcIpRange } : {}),
  }, opts);
  const parent = opts?.parent ? { parent: opts.parent } : {};
  const k8sProvider = kubernetesProvider ?? new k8s.Provider(`${name}-k8s`, { kubeconfig: cluster.kubeconfig }, parent);
  const staticEgress = new StaticEgress(`${name}-static-egress`, { ...selection, gateways: egress.gatewayIps }, { ...parent, provider: k8sProvider, dependsOn: [cluster] });
  return { ...egress, staticEgress };
}
