/**
 * What an operator scrapes and probes (root, network namespaces): the agent process's /healthz, /readyz and
 * Prometheus /metrics, read over HTTP inside the node namespace, follow what the kernel and the prober see.
 */
import { setGatewayLink, until } from '../net/topology.js';
import { useTopology } from '../net/use-topology.js';
import { ownedRoute, routesDir, routeYaml, startAgent, writeRoutes, type AgentProcess } from './agent-process.js';

const HEALTH_PORT = 19181;
const METRICS_PORT = 19180;

const topo = useTopology({ gateways: 2, echo: false });
let agent: AgentProcess | undefined;

/** GET http://127.0.0.1:PORT/PATH from inside the node namespace (where the agent listens, as on a node). */
async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const script = `fetch('http://127.0.0.1:${port}${path}').then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { process.stderr.write(String(e)); process.exit(3); })`;
  const r = await topo.node.exec(process.execPath, ['-e', script], { timeoutMs: 10_000 });
  if (r.code !== 0) return { status: 0, body: r.stderr };
  return JSON.parse(r.stdout) as { status: number; body: string };
}

/** The value of one sample line of the exposition text, e.g. `kroute_gateway_up{gateway="10.114.0.3"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('the agent process serves health and metrics (root, network namespaces)', () => {
  it('answers /healthz, turns /readyz ready once its routes are applied, and exports routes and gateway state that follow a gateway cut', async () => {
    const [g0, g1] = topo.gateways;
    const dir = routesDir(topo, 'observability');
    writeRoutes(dir, 'route.yaml', routeYaml('ecmp', ['192.0.2.0/24'], [g0.vpcV4, g1.vpcV4]));
    agent = startAgent(topo, dir, {
      args: ['--health-port', String(HEALTH_PORT), '--metrics-port', String(METRICS_PORT), '--bind-address', '127.0.0.1'],
    });
    await until('192.0.2.0/24 via both gateways', 15_000, async () => ((await ownedRoute(topo.node, '192.0.2.0/24'))?.gateways.length === 2 ? true : undefined));

    expect(await get(HEALTH_PORT, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await until('/readyz 200', 10_000, async () => ((await get(HEALTH_PORT, '/readyz')).status === 200 ? true : undefined))).toBe(true);
    expect((await get(HEALTH_PORT, '/nope')).status).toBe(404);

    const up = (gw: string) => `kroute_gateway_up{gateway="${gw}"}`;
    const metrics = await until('both gateways up in /metrics', 10_000, async () => {
      const m = await get(METRICS_PORT, '/metrics');
      return sample(m.body, up(g0.vpcV4)) === 1 && sample(m.body, up(g1.vpcV4)) === 1 ? m : undefined;
    });
    expect(metrics.status).toBe(200);
    expect(sample(metrics.body, 'kroute_routes_desired')).toBeGreaterThanOrEqual(1);
    expect(sample(metrics.body, 'kroute_routes_applied')).toBe(sample(metrics.body, 'kroute_routes_desired'));
    expect(sample(metrics.body, 'kroute_kernel_errors_total')).toBe(0);
    expect(sample(metrics.body, 'kroute_reconcile_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    // Standard process metrics under their standard names, and which build runs.
    expect(metrics.body).toMatch(/^process_cpu_seconds_total \d/m);
    expect(metrics.body).toMatch(/^kroute_build_info\{version="[^"]+",nodejs_version="v[^"]+"\} 1$/m);

    // A cut link: the prober takes gateway 0 out, and the metric says so.
    await setGatewayLink(g0, false);
    await until(`${up(g0.vpcV4)} 0`, 15_000, async () => (sample((await get(METRICS_PORT, '/metrics')).body, up(g0.vpcV4)) === 0 ? true : undefined));
    expect((await ownedRoute(topo.node, '192.0.2.0/24'))?.gateways).toEqual([g1.vpcV4]);
    await setGatewayLink(g0, true);
    await until(`${up(g0.vpcV4)} back to 1`, 15_000, async () => (sample((await get(METRICS_PORT, '/metrics')).body, up(g0.vpcV4)) === 1 ? true : undefined));
    expect(await agent.stop()).toBe(0);
  }, 90_000);
});
