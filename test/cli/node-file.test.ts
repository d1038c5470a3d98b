/**
 * `kroute plan --host local` in file mode on a real node kernel (root; no API server): the DigitalOcean-shaped
 * topology, Routes in a folder, kroute and the agent in the node namespace. A fresh node's plan lists every route,
 * the symmetric-routing rule and the sysctls to set; the agent's --dry-run logs the same and writes nothing; the real
 * agent then makes exactly those changes (ip monitor), after which the plan is empty (exit 0).
 */
import type { NodePlanReport } from '../../agent/cli/changes.js';
import { routesDir, routeYaml, startAgent, writeRoutes, type AgentProcess } from '../agent/agent-process.js';
import { until } from '../net/topology.js';
import { useTopology } from '../net/use-topology.js';
import { krouteJson, monitor } from './kroute-process.js';

const POOL = 'doks.digitalocean.com/node-pool';
// Built before the tests; the agents started in it stopped and it destroyed after them.
const topo = useTopology({ gateways: 2, echo: false });
let dir = '';
let agent: AgentProcess | undefined;
/** The DOKS probe timing, not the fast one of the agent tests: a probe lost under load must not change a route here. */
const SLOW_PROBES = ['--probe-interval-seconds', '30', '--probe-timeout-seconds', '1', '--probe-fall-count', '3'];

beforeAll(() => {
  dir = routesDir(topo);
  const [g0, g1] = topo.gateways;
  writeRoutes(dir, 'a.yaml', routeYaml('ecmp', ['172.30.0.0/16'], [g0.vpcV4, g1.vpcV4]));
  writeRoutes(dir, 'b.yaml', routeYaml('egress-only', ['172.31.0.0/16'], [g0.vpcV4], `  nodeSelector: {nodeSelectorTerms: [{matchExpressions: [{key: ${POOL}, operator: In, values: [egress]}]}]}\n`));
});

describe('kroute plan --host local on a node in file mode (root, network namespaces)', () => {
  const plan = () => krouteJson<NodePlanReport>(['plan', 'node-a', '--routes', dir, '--node-labels', `${POOL}=worker`, '--host', 'local', '--resolv-conf', topo.resolvConf], topo.node);

  it('a fresh node: plan lists the routes, the rule and the sysctls; --dry-run logs the same and writes nothing; the agent then does exactly that', async () => {
    const r = await plan();
    expect(r.code).toBe(2);
    const routes = r.value.changes.routes.map((c) => [c.action, c.dst, c.table]);
    // Symmetric routing for both families of eth0 (203.0.113.10, 2001:db8:1::10), and the Route that selects the node.
    expect(routes).toEqual([['add', '0.0.0.0/0', 135], ['add', '::/0', 135], ['add', '172.30.0.0/16', 254]]);
    expect(r.value.changes.rules.map((x) => [x.action, x.priority, x.src])).toEqual([['add', 15135, '203.0.113.10/32'], ['add', 15135, '2001:db8:1::10/128']]);
    expect(r.value.changes.sysctls.map((s) => [s.key, s.action])).toContainEqual(['net.ipv4.fib_multipath_hash_policy', 'set']);
    expect(r.value.outcomes.find((o) => o.route === 'egress-only')?.state).toBe('NotSelected');

    const m = monitor(topo);
    const a = await m.mark();
    const before = await topo.node.exec('cat', ['/proc/sys/net/ipv4/fib_multipath_hash_policy']);
    agent = startAgent(topo, dir, { args: [...SLOW_PROBES, '--node-labels', `${POOL}=worker`, '--dry-run', '--resync-seconds', '1', '--log-level', 'debug'] });
    const line = await agent.waitForLog((l) => l.msg === 'dry-run: would change the kernel', 15_000, 'the dry-run plan');
    await agent.waitForLogs((l) => l.msg === 'dry-run: would change the kernel', 2, 15_000);
    await agent.stop();
    agent = undefined;
    const b = await m.mark();
    expect((line.routes as { action: string; dst: string; table: number }[]).map((x) => [x.action, x.dst, x.table])).toEqual(routes);
    expect(m.between(a, b)).toEqual([]);
    expect((await topo.node.exec('cat', ['/proc/sys/net/ipv4/fib_multipath_hash_policy'])).stdout).toBe(before.stdout);

    agent = startAgent(topo, dir, { args: [...SLOW_PROBES, '--node-labels', `${POOL}=worker`] });
    await agent.waitForLog((l) => l.msg === 'applied', 15_000, 'the first apply');
    const c = await m.mark();
    m.stop();
    const seen = [...new Set(m.owned(b, c).map((x) => `${x.deleted ? 'remove' : 'add'} ${x.dst} ${x.table === 'main' ? 254 : x.table}`))].sort();
    expect(seen).toEqual(routes.map((x) => x.join(' ')).sort());
    expect(m.rules(b, c).sort()).toEqual(r.value.changes.rules.map((x) => `${x.action} ${x.priority} ${x.src}`).sort());
    const after = await until('an empty plan', 10_000, async () => {
      const p = await plan();
      return p.code === 0 ? p : undefined;
    });
    expect(after.value.changes.sysctls.every((s) => s.action === 'keep')).toBe(true);
  });
});
