/**
 * kroute's Pulumi components (`kroute-pulumi`): the cluster half (RoutingAgent, Route, StaticEgress), built from
 * the same core objects as the cdk8s constructs; it needs only @pulumi/pulumi and @pulumi/kubernetes. The
 * DigitalOcean half (DoksCluster, NatGatewayEgress, GatewayDropletEgress, EgressNodePool, EgressProvider) is
 * `kroute-pulumi/digitalocean` (digitalocean/index.ts). See docs/pulumi.md and docs/egress-patterns.md.
 */
export * from './agent-args.js';
export * from './errors.js';
export * from './selectors.js';
export * from './route.js';
export * from './routing-agent.js';
export * from './static-egress.js';
export { ValidationError, type FieldError } from '../core/index.js';
