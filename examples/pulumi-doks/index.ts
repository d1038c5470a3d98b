/**
 * A VPC, a DOKS cluster with DigitalOcean's managed routing agent, a NAT of either kind, and a StaticEgress that
 * sends every node's outbound traffic through it. `pulumi config set egress droplets` picks gateway Droplets.
 */
import * as pulumi from '@pulumi/pulumi';
import * as k8s from '@pulumi/kubernetes';
import { DoksCluster, GatewayDropletEgress, NatGatewayEgress, StaticEgress } from '../../pulumi-provider/index.js'; // 'kroute/pulumi' in your own program

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

const egress = config.get('egress') === 'droplets'
  ? new GatewayDropletEgress('egress', { region, vpcUuid: cluster.vpcUuid, vpcRegion: cluster.region, vpcIpRange, count: 2 })
  : new NatGatewayEgress('egress', { region, vpcUuid: cluster.vpcUuid, vpcRegion: cluster.region });

const provider = new k8s.Provider('doks', { kubeconfig: cluster.kubeconfig });
new StaticEgress('all-nodes', { gateways: egress.gatewayIps }, { provider, dependsOn: [cluster] });

/** The IPs the internet sees: give these to the partners who allow-list you. */
export const egressIps = egress.egressIps;
export const gatewayIps = egress.gatewayIps;
