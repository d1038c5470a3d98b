/**
 * Serves kroute's components over Pulumi's provider protocol, for Python, Go, YAML, C# and Java programs.
 * Pulumi's analyzer reads the TypeScript sources in `dir` (this folder) to build the schema: every component has
 * one constructor whose parameter `args` is an interface, and no args or outputs use union types.
 */
import { componentProviderHost } from '@pulumi/pulumi/provider/experimental/index.js';
import {
  DoksCluster,
  EgressNodePool,
  GatewayDropletEgress,
  NatGatewayEgress,
  Route,
  RoutingAgent,
  StaticEgress,
} from '../index.js';

/** The components the provider serves. */
export const COMPONENTS = [RoutingAgent, Route, StaticEgress, DoksCluster, NatGatewayEgress, GatewayDropletEgress, EgressNodePool];

/** Starts the provider: prints its gRPC port on stdout and serves until the engine stops it. */
export function serve(dir: string): Promise<void> {
  return componentProviderHost({ name: 'kroute', namespace: 'kroute', components: COMPONENTS, dirname: dir });
}
