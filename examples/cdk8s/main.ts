/**
 * The cdk8s example: kroute's agent, a basic Route, an ECMP Route, a node-pool Route and a StaticEgress.
 * `npm run synth` writes the YAML to dist/ and says where.
 */
import { App, Chart, type ChartProps } from 'cdk8s';
import type { Construct } from 'constructs';
import { EgressScope, NodeSelector, Route, RoutingAgent, StaticEgress } from '../../constructs/index.js';

/** The example chart; the tests synthesize it too. */
export class ExampleChart extends Chart {
  constructor(scope: Construct, id: string, props: ChartProps = {}) {
    super(scope, id, props);
    new RoutingAgent(this, 'agent', { agent: { probeIntervalSeconds: 10 } });
    // DigitalOcean's first example: 1.2.3.4/5 is accepted and means 0.0.0.0/5.
    new Route(this, 'basic', { name: 'basic', destinations: ['1.2.3.4/5'], gateways: ['10.114.0.3'] });
    new Route(this, 'ecmp', { name: 'ecmp', destinations: ['203.0.113.0/24'], gateways: ['10.114.0.3', '10.114.0.4'] });
    new Route(this, 'pool', {
      name: 'vpn-worker-pool',
      destinations: ['172.16.0.0/12'],
      gateways: ['10.114.0.5'],
      nodeSelector: NodeSelector.nodePool('worker-pool'),
    });
    new StaticEgress(this, 'egress', {
      name: 'static-egress',
      gateways: ['10.114.0.3', '10.114.0.4'],
      scope: EgressScope.NODE_POOLS,
      nodePools: ['egress-pool'],
    });
  }
}

/** Synthesizes the example into `outdir`; returns the files written. */
export function synthExample(outdir = 'dist'): string[] {
  const app = new App({ outdir });
  new ExampleChart(app, 'kroute');
  app.synth();
  return [`${outdir}/kroute.k8s.yaml`];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of synthExample()) console.log(`wrote ${f}`);
  console.log('apply with: kubectl apply -f dist/kroute.k8s.yaml');
}
