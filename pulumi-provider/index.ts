/**
 * kroute's Pulumi components (`kroute/pulumi`): the cluster half (RoutingAgent, Route, StaticEgress), built from
 * the same core objects as the cdk8s constructs, and the DigitalOcean half (DoksCluster, NatGatewayEgress,
 * GatewayDropletEgress, EgressNodePool). See docs/pulumi.md and docs/egress-patterns.md.
 */
export * from './agent-args.js';
export * from './errors.js';
export * from './selectors.js';
export * from './route.js';
export * from './routing-agent.js';
export * from './static-egress.js';
export * from './digitalocean/checks.js';
export * from './digitalocean/node-pool.js';
export * from './digitalocean/gateway-cloud-init.js';
export * from './digitalocean/doks-cluster.js';
export * from './digitalocean/nat-gateway-egress.js';
export * from './digitalocean/gateway-droplet-egress.js';
export * from './digitalocean/egress-node-pool.js';
export * from './digitalocean/egress-provider.js';
export { ValidationError, type FieldError } from '../core/index.js';
