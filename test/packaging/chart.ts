/**
 * The chart every construct-library consumer synthesizes (TypeScript from the tarball, CommonJS and ESM; Python
 * from the wheel), and the same chart built here from the repository's sources: the reference they must equal.
 */
import { App, Chart } from 'cdk8s';
import { EgressScope, NodeSelector, Route, RoutingAgent, StaticEgress } from '../../constructs/index.js';

/** The user's program, TypeScript; `MODULE` is the package name it imports. */
export const TS_CHART = (module: string): string => `import { App, Chart } from 'cdk8s';
import { EgressScope, NodeSelector, Route, RoutingAgent, StaticEgress, ValidationError } from '${module}';

const chart = new Chart(new App(), 'routes');
new RoutingAgent(chart, 'agent', { namespace: 'kroute', agent: { probeIntervalSeconds: 10, keepAddresses: ['169.254.169.254', '10.0.0.1'] } });
new Route(chart, 'vpn', { destinations: ['172.16.0.0/12'], gateways: ['10.114.0.5'], nodeSelector: NodeSelector.nodePool('worker-pool') });
new StaticEgress(chart, 'egress', { gateways: ['10.114.0.3', '10.114.0.4'], scope: EgressScope.NODE_POOLS, nodePools: ['egress-pool'] });

let error = '';
try {
  new Route(new Chart(new App(), 'bad'), 'r', { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.999'] });
} catch (e) {
  error = e instanceof ValidationError ? e.message : 'not a ValidationError: ' + String(e);
}
console.log(JSON.stringify({ objects: chart.toJson(), error }));
`;

/** The same program in Python, against the wheel. */
export const PY_CHART = `import json
from cdk8s import App, Chart
from kroute_cdk8s import EgressScope, NodeSelector, Route, RoutingAgent, StaticEgress

chart = Chart(App(), "routes")
RoutingAgent(chart, "agent", namespace="kroute", agent={"probe_interval_seconds": 10, "keep_addresses": ["169.254.169.254", "10.0.0.1"]})
Route(chart, "vpn", destinations=["172.16.0.0/12"], gateways=["10.114.0.5"], node_selector=NodeSelector.node_pool("worker-pool"))
StaticEgress(chart, "egress", gateways=["10.114.0.3", "10.114.0.4"], scope=EgressScope.NODE_POOLS, node_pools=["egress-pool"])

error = ""
try:
    Route(Chart(App(), "bad"), "r", destinations=["10.0.0.0/8"], gateways=["10.114.0.999"])
except RuntimeError as e:
    error = type(e).__name__ + ": " + str(e)
print(json.dumps({"objects": chart.to_json(), "error": error}))
`;

/** The reference: the chart from the sources, as JSON. */
export function referenceObjects(): unknown[] {
  const chart = new Chart(new App(), 'routes');
  new RoutingAgent(chart, 'agent', { namespace: 'kroute', agent: { probeIntervalSeconds: 10, keepAddresses: ['169.254.169.254', '10.0.0.1'] } });
  new Route(chart, 'vpn', { destinations: ['172.16.0.0/12'], gateways: ['10.114.0.5'], nodeSelector: NodeSelector.nodePool('worker-pool') });
  new StaticEgress(chart, 'egress', { gateways: ['10.114.0.3', '10.114.0.4'], scope: EgressScope.NODE_POOLS, nodePools: ['egress-pool'] });
  return chart.toJson() as unknown[];
}

/** What a bad gateway must say, in every language. */
export const BAD_GATEWAY = 'spec.gateways[0]: "10.114.0.999" is not an IPv4 or IPv6 address';
