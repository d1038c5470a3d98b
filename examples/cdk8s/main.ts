/**
 * The cdk8s example: kroute's agent, a basic Route, an ECMP Route, a node-pool Route and a StaticEgress.
 * `npm run synth` writes the agent (CRD, RBAC, DaemonSet) to dist/kroute.k8s.yaml and the Routes to
 * dist/kroute-routes.k8s.yaml: a fresh cluster must have the CRD Established before kubectl can send a Route (one
 * file with both fails the first `kubectl apply`).
 */
import { App, Chart, type ChartProps } from 'cdk8s';
import type { Construct } from 'constructs';
import { EgressScope, NodeSelector, Route, RoutingAgent, StaticEgress } from '../../constructs/index.js';

/** Which half of the example a chart holds. */
export interface ExampleChartProps extends ChartProps {
  /** The agent (CRD, RBAC, DaemonSet). @default true */
  readonly agent?: boolean;
  /** The Routes. @default true */
  readonly routes?: boolean;
}

/** The example chart; the tests synthesize it too. */
export class ExampleChart extends Chart {
  constructor(scope: Construct, id: string, props: ExampleChartProps = {}) {
    super(scope, id, props);
    if (props.agent ?? true) new RoutingAgent(this, 'agent', { agent: { probeIntervalSeconds: 10 } });
    if (props.routes ?? true) this.addRoutes();
  }

  private addRoutes(): void {
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

/** Synthesizes the example into `outdir`: the agent's file, then the Routes' file (apply in that order). */
export function synthExample(outdir = 'dist'): string[] {
  const app = new App({ outdir });
  // Two charts, no addDependency between them: with one cdk8s prefixes the files 0000-, 0001-.
  new ExampleChart(app, 'kroute', { routes: false });
  new ExampleChart(app, 'kroute-routes', { agent: false });
  app.synth();
  return [`${outdir}/kroute.k8s.yaml`, `${outdir}/kroute-routes.k8s.yaml`];
}

/** The commands that apply the two files on a fresh cluster. */
export const APPLY_EXAMPLE = [
  'kubectl apply -f dist/kroute.k8s.yaml',
  'kubectl wait --for=condition=Established crd/routes.networking.doks.digitalocean.com',
  'kubectl apply -f dist/kroute-routes.k8s.yaml',
];

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const f of synthExample()) console.log(`wrote ${f}`);
  console.log(`apply with:\n  ${APPLY_EXAMPLE.join('\n  ')}`);
}
