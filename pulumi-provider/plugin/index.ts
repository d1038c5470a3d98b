/**
 * kroute's multi-language component provider, for Python, Go, YAML, C# and Java programs (docs/pulumi.md). Two ways
 * to start it, both from the packed kroute-pulumi package:
 * - Pulumi's own plugin runner, as the engine does for `runtime: nodejs` (PulumiPlugin.yaml):
 *   `node node_modules/@pulumi/pulumi/cmd/run-plugin <this folder>` requires this module, finds the components it
 *   exports and serves them under the name in ./package.json (`kroute`);
 * - `node <this folder>/index.js` (an executable wrapper): serves the same components itself.
 * Either way Pulumi's analyzer reads this file and the declarations it imports (../lib/**\/*.d.ts, TSDoc included)
 * to build the schema. CommonJS, because Pulumi's runner loads it with require().
 */
import { componentProviderHost } from '@pulumi/pulumi/provider/experimental';
import {
  DoksCluster,
  EgressNodePool,
  GatewayDropletEgress,
  NatGatewayEgress,
  Route,
  RoutingAgent,
  StaticEgress,
} from '../lib/pulumi-provider/digitalocean/index.js';

export { DoksCluster, EgressNodePool, GatewayDropletEgress, NatGatewayEgress, Route, RoutingAgent, StaticEgress };

/** The components the provider serves. */
export const COMPONENTS = [RoutingAgent, Route, StaticEgress, DoksCluster, NatGatewayEgress, GatewayDropletEgress, EgressNodePool];

if (require.main === module) {
  componentProviderHost({ name: 'kroute', components: COMPONENTS, dirname: __dirname }).catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
}
