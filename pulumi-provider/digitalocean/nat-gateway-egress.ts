/**
 * Managed NAT: a DigitalOcean VPC NAT gateway in the cluster's VPC. The StaticEgress gateway is its
 * `vpcs[0].gatewayIp`; its public IPs are the static egress IPs. Cost and availability: docs/egress-patterns.md.
 */
import * as pulumi from '@pulumi/pulumi';
import * as digitalocean from '@pulumi/digitalocean';
import { NAT_GATEWAY_SIZES, intInRange, ipv4ListErrors, regionChecked } from './checks.js';
import { awaitLateChecks, failOn } from '../errors.js';

/** Args of a NatGatewayEgress. */
export interface NatGatewayEgressArgs {
  /** Region slug of the NAT gateway (the VPC's region), e.g. "fra1". */
  readonly region: string;
  /** The VPC whose traffic it translates (the cluster's). Changing it replaces the NAT gateway. */
  readonly vpcUuid: pulumi.Input<string>;
  /** The VPC's region, when it comes from elsewhere; must equal `region`. @default not checked */
  readonly vpcRegion?: pulumi.Input<string>;
  /** Size in units (1 to 16), each about 25 Mbps and 100 GiB of transfer a month. @default 1 */
  readonly size?: number;
  /** Existing Reserved IPs to use as egress IPs (bring your own). @default DigitalOcean assigns one */
  readonly egressIps?: string[];
  /** Subnet of the VPC to attach to. @default the VPC's default subnet */
  readonly subnetUuid?: pulumi.Input<string>;
  /** Make it the VPC's default gateway for every Droplet in it (not only the nodes a Route selects). @default false */
  readonly defaultGateway?: boolean;
  /** Name of the NAT gateway. @default auto-named from the component's name */
  readonly natName?: string;
}

/** A managed VPC NAT gateway for static egress. */
export class NatGatewayEgress extends pulumi.ComponentResource {
  /** The NAT gateway's address in the VPC: the StaticEgress gateway. */
  readonly gatewayIps: pulumi.Output<string[]>;
  /** The public IPs traffic leaves from: the static egress IPs. */
  readonly egressIps: pulumi.Output<string[]>;
  /** The NAT gateway's id. */
  readonly natGatewayId: pulumi.Output<string>;

  /** Waits for the checks of values known only at deployment, so what depends on this fails with their error. */
  protected override async initialize(): Promise<unknown> {
    await awaitLateChecks(this);
    return undefined;
  }

  constructor(name: string, args: NatGatewayEgressArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kroute:index:NatGatewayEgress', name, {}, opts);
    const subject = `NatGatewayEgress "${name}"`;
    const region = regionChecked(subject, this, args.region, args.vpcUuid, args.vpcRegion);
    failOn(subject, [
      ...intInRange('args.size', args.size, NAT_GATEWAY_SIZES.min, NAT_GATEWAY_SIZES.max, 'the NAT gateway size in units'),
      ...ipv4ListErrors('args.egressIps', args.egressIps),
      ...region.errors,
    ], this);
    const nat = new digitalocean.VpcNatGateway(`${name}-nat`, {
      region: args.region,
      size: args.size ?? 1,
      type: 'PUBLIC',
      ...(args.natName ? { name: args.natName } : {}),
      vpcs: [{
        vpcUuid: region.vpcUuid,
        ...(args.subnetUuid ? { subnetUuid: args.subnetUuid } : {}),
        defaultGateway: args.defaultGateway ?? false,
      }],
      ...(args.egressIps ? { egresses: [{ publicGateways: args.egressIps.map((ipv4) => ({ ipv4 })) }] } : {}),
    }, { parent: this });
    this.gatewayIps = nat.vpcs.apply((vs) => vs.map((v) => v.gatewayIp));
    this.egressIps = nat.egresses.apply((es) => (es ?? []).flatMap((e) => e.publicGateways.map((g) => g.ipv4)));
    this.natGatewayId = nat.id;
    this.registerOutputs({ gatewayIps: this.gatewayIps, egressIps: this.egressIps, natGatewayId: this.natGatewayId });
  }
}
