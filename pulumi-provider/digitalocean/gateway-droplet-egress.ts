/**
 * Self-managed NAT: N gateway Droplets in the VPC, each leaving the internet from its own Reserved IP; nodes spread
 * flows over all of them by ECMP (one Route with N gateways). Cost and availability: docs/egress-patterns.md.
 */
import * as pulumi from '@pulumi/pulumi';
import * as digitalocean from '@pulumi/digitalocean';
import { gatewayCloudConfig } from './gateway-cloud-init.js';
import { DEFAULT_RESERVED_IP_QUOTA, gatewayCountErrors, intInRange, ipv4ListErrors, regionChecked, vpcRangeErrors } from './checks.js';
import { awaitLateChecks, failOn } from '../errors.js';
import { fieldError, type FieldError } from '../../core/index.js';

/** Args of a GatewayDropletEgress. */
export interface GatewayDropletEgressArgs {
  /** Region slug of the Droplets (the VPC's region), e.g. "fra1". */
  readonly region: string;
  /** The VPC the gateways join (the cluster's). */
  readonly vpcUuid: pulumi.Input<string>;
  /** The VPC's IP range: the traffic the gateways source-NAT and accept. */
  readonly vpcIpRange: string;
  /** The VPC's region, when it comes from elsewhere; must equal `region`. @default not checked */
  readonly vpcRegion?: pulumi.Input<string>;
  /** Number of gateway Droplets; two or more give ECMP and survive the loss of one. @default 2 */
  readonly count?: number;
  /** Droplet size slug. @default "s-1vcpu-1gb" */
  readonly size?: string;
  /** Droplet image slug (needs cloud-init, nftables and curl). @default "ubuntu-24-04-x64" */
  readonly image?: string;
  /** Existing Reserved IPs to use, one per gateway (bring your own); none are created then. @default create `count` */
  readonly reservedIps?: string[];
  /** Keep created Reserved IPs when the stack is destroyed (they are billed while unassigned). @default false */
  readonly retainReservedIps?: boolean;
  /** Reserved IPs this account may hold (raise it after DigitalOcean raised the limit). @default 3 */
  readonly reservedIpQuota?: number;
  /** SSH key ids or fingerprints for the Droplets. @default [] */
  readonly sshKeys?: string[];
  /** Addresses allowed to SSH to the gateways. @default [] (no SSH) */
  readonly sshSourceAddresses?: string[];
  /** Tags on the Droplets. @default ["kroute-gateway"] */
  readonly tags?: string[];
}

/** Gateway Droplets with Reserved IPs as static egress IPs; their IP lifetime is separate from the Droplets'. */
export class GatewayDropletEgress extends pulumi.ComponentResource {
  /** Private VPC addresses of the gateways: the StaticEgress gateways. */
  readonly gatewayIps: pulumi.Output<string[]>;
  /** The Reserved IPs: the static egress IPs the internet sees. */
  readonly egressIps: pulumi.Output<string[]>;
  /** Droplet ids of the gateways. */
  readonly dropletIds: pulumi.Output<number[]>;

  /** Waits for the checks of values known only at deployment, so what depends on this fails with their error. */
  protected override async initialize(): Promise<unknown> {
    await awaitLateChecks(this);
    return undefined;
  }

  constructor(name: string, args: GatewayDropletEgressArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kroute:index:GatewayDropletEgress', name, {}, opts);
    const subject = `GatewayDropletEgress "${name}"`;
    const count = args.count ?? 2;
    const region = regionChecked(subject, this, args.region, args.vpcUuid, args.vpcRegion);
    failOn(subject, [...gatewayDropletErrors(args, count), ...region.errors], this);

    const userData = gatewayCloudConfig({ vpcIpRange: args.vpcIpRange });
    const droplets = Array.from({ length: count }, (_, i) =>
      new digitalocean.Droplet(`${name}-gateway-${i}`, {
        region: args.region,
        vpcUuid: region.vpcUuid,
        size: args.size ?? 's-1vcpu-1gb',
        image: args.image ?? 'ubuntu-24-04-x64',
        userData,
        monitoring: true,
        ipv6: false,
        tags: args.tags ?? ['kroute-gateway'],
        ...(args.sshKeys ? { sshKeys: args.sshKeys } : {}),
      }, { parent: this }),
    );
    const dropletIds = droplets.map((d) => d.id.apply(Number));
    // Reserved IPs are not children of the Droplets and carry no dropletId: replacing a Droplet keeps its IP.
    const addresses: pulumi.Output<string>[] = droplets.map((_, i) => {
      const byo = args.reservedIps?.[i];
      if (byo !== undefined) return pulumi.output(byo);
      return new digitalocean.ReservedIp(`${name}-ip-${i}`, { region: args.region }, { parent: this, retainOnDelete: args.retainReservedIps ?? false }).ipAddress;
    });
    addresses.forEach((ipAddress, i) => {
      new digitalocean.ReservedIpAssignment(`${name}-ip-${i}-assignment`, { ipAddress, dropletId: dropletIds[i] }, { parent: this });
    });
    new digitalocean.Firewall(`${name}-firewall`, {
      dropletIds,
      inboundRules: gatewayInboundRules(args.vpcIpRange, args.sshSourceAddresses ?? []),
      outboundRules: ['tcp', 'udp', 'icmp'].map((protocol) => ({
        protocol,
        ...(protocol === 'icmp' ? {} : { portRange: '1-65535' }),
        destinationAddresses: ['0.0.0.0/0', '::/0'],
      })),
    }, { parent: this });

    this.gatewayIps = pulumi.all(droplets.map((d) => d.ipv4AddressPrivate));
    this.egressIps = pulumi.all(addresses);
    this.dropletIds = pulumi.all(dropletIds);
    this.registerOutputs({ gatewayIps: this.gatewayIps, egressIps: this.egressIps, dropletIds: this.dropletIds });
  }
}

/** Everything wrong with the args that is known before any resource is created. */
export function gatewayDropletErrors(args: GatewayDropletEgressArgs, count: number): FieldError[] {
  const quota = args.reservedIpQuota ?? DEFAULT_RESERVED_IP_QUOTA;
  const errs = [...gatewayCountErrors('args.count', count), ...vpcRangeErrors('args.vpcIpRange', args.vpcIpRange)];
  errs.push(...intInRange('args.reservedIpQuota', args.reservedIpQuota, 1, 1000, 'the Reserved IPs this account may hold'));
  errs.push(...ipv4ListErrors('args.reservedIps', args.reservedIps));
  if (args.reservedIps !== undefined && args.reservedIps.length !== count) {
    errs.push(fieldError('args.reservedIps', 'Invalid', `must list one Reserved IP per gateway (${count})`, args.reservedIps));
  }
  if (args.reservedIps === undefined && count > quota) {
    errs.push(fieldError('args.count', 'TooMany', `gateways need one Reserved IP each, and DigitalOcean allows ${quota} per account by default: ` +
      'use fewer gateways, bring your own Reserved IPs (reservedIps), or ask DigitalOcean for more and set reservedIpQuota', count));
  }
  return errs;
}

/** What a gateway must accept: everything from the VPC (forwarded traffic, and ICMP for the agents' probes), SSH if asked. */
export function gatewayInboundRules(vpcIpRange: string, sshSources: readonly string[]): digitalocean.types.input.FirewallInboundRule[] {
  const fromVpc = ['tcp', 'udp', 'icmp'].map((protocol) => ({
    protocol,
    ...(protocol === 'icmp' ? {} : { portRange: '1-65535' }),
    sourceAddresses: [vpcIpRange],
  }));
  const ssh = sshSources.length ? [{ protocol: 'tcp', portRange: '22', sourceAddresses: [...sshSources] }] : [];
  return [...fromVpc, ...ssh];
}
