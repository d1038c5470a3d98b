/**
 * Any cluster (the current kubeconfig context): kroute's bundled agent, a Route to a VPN range, and a static egress
 * for the nodes of one pool through two gateways (ECMP).
 */
import { EgressScope, NodeSelectors, Route, RoutingAgent, StaticEgress } from '../../pulumi-provider/index.js'; // 'kroute/pulumi' in your own program

const agent = new RoutingAgent('kroute', { agent: { probeIntervalSeconds: 2 } });

new Route('vpn', {
  destinations: ['10.20.0.0/16'],
  gateways: ['10.114.0.3'],
  nodeSelector: NodeSelectors.labels({ 'kroute.io/vpn': 'true' }),
}, { dependsOn: [agent] });

new StaticEgress('egress', {
  gateways: ['10.114.0.10', '10.114.0.11'],
  scope: EgressScope.NODE_POOLS,
  nodePools: ['egress'],
}, { dependsOn: [agent] });

/** What the agent installed. */
export const objects = agent.objects;
