/**
 * A VPC, a DOKS cluster with DigitalOcean's managed routing agent, a NAT of either kind (an EgressProvider, chosen
 * like CDK's NatProvider), and a StaticEgress that sends every node's outbound traffic through it.
 * `pulumi config set egress droplets` picks gateway Droplets.
 */
import * as pulumi from '@pulumi/pulumi';
import { addStaticEgress, DoksCluster, EgressProvider } from '../../pulumi-provider/digitalocean/index.js'; // 'kroute-pulumi/digitalocean' in your own program

const config = new pulumi.Config();
const region = 'fra1';
const vpcIpRange = '10.10.0.0/16';

const cluster = new DoksCluster('doks', {
  region,
  // DigitalOcean's reference architecture pins 1.33: it reports a routing-agent bug in 1.34.x.
  version: '1.33.1-do.0',
  vpcIpRange,
  clusterSubnet: '10.244.0.0/16',
  serviceSubnet: '10.245.0.0/16',
  nodePool: { name: 'default', size: 's-2vcpu-4gb', nodeCount: 2 },
});

const nat = config.get('egress') === 'droplets' ? EgressProvider.gatewayDroplets({ count: 2 }) : EgressProvider.natGateway();
// The gateways ('egress') in the cluster's VPC, and a StaticEgress ('egress-static-egress') for every node.
const egress = addStaticEgress('egress', cluster, nat, { region, vpcIpRange });

/** The IPs the internet sees: give these to the partners who allow-list you. */
export const egressIps = egress.egressIps;
export const gatewayIps = egress.gatewayIps;
