/**
 * `kroute-pulumi/digitalocean`: the DigitalOcean half (DoksCluster, NatGatewayEgress, GatewayDropletEgress,
 * EgressNodePool, EgressProvider) and, for one import, the cluster half too. Its own entry point because it
 * imports `@pulumi/digitalocean`, an optional peer a program on any other cluster does not install.
 */
export * from '../index.js';
export * from './checks.js';
export * from './node-pool.js';
export * from './gateway-cloud-init.js';
export * from './doks-cluster.js';
export * from './nat-gateway-egress.js';
export * from './gateway-droplet-egress.js';
export * from './egress-node-pool.js';
export * from './egress-provider.js';
