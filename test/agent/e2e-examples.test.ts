/**
 * DigitalOcean's Route examples through the real agent (built lib/agent/main.js, file source) in a DigitalOcean-shaped
 * node namespace (root): the kernel gets the routes the examples describe, and pings, TCP and UDP really reach the
 * destinations through the gateways, spread over both when there are two (counted at the gateways).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOKS_EXAMPLES_DIR } from '../fixtures/doks-examples.js';
import { runAgent } from '../lab/agent.js';
import { DEST, flows, NODE, pingOnce, routeGet, until } from '../net/topology.js';
import { useTopology } from '../net/use-topology.js';
import { ownedRoute, ownedRoutes, routesDir, routeYaml, writeRoutes, type AgentProcess, type LogLine } from './agent-process.js';

const topo = useTopology({ gateways: 2 });
let agent: AgentProcess | undefined;

const example = (file: string) => readFileSync(join(DOKS_EXAMPLES_DIR, file), 'utf8');
const status = (route: string, state: string) => (l: LogLine) => l.msg === 'route status' && l.route === route && l.state === state;

async function restartAgent(dir: string, args: string[] = []): Promise<AgentProcess> {
  if (agent) expect(await agent.stop()).toBe(0);
  agent = await runAgent(topo.built, { routes: dir, args, ready: 'agent started' });
  return agent;
}

describe('DigitalOcean examples applied by the agent process (root, network namespaces)', () => {
  it('1-basic: 1.2.3.4/5 via one gateway becomes 0.0.0.0/5 via 10.114.0.3, and ping, TCP and UDP to it go through that gateway', async () => {
    const dir = routesDir(topo, 'basic');
    writeRoutes(dir, 'route.yaml', example('1-basic.yaml'));
    const a = await restartAgent(dir);
    const r = await until('0.0.0.0/5 in the kernel', 10_000, () => ownedRoute(topo.node, '0.0.0.0/5'));
    expect(r.gateways).toEqual(['10.114.0.3']);
    expect(await routeGet(topo.node, DEST.inFiveV4)).toMatch(/via 10\.114\.0\.3 dev eth1/);
    // Outside the prefix, the node's own default route still decides.
    expect(await routeGet(topo.node, DEST.otherV4)).toMatch(new RegExp(`via ${NODE.publicGatewayV4} dev eth0`));
    await topo.resetCounters();
    expect(await pingOnce(topo.node, DEST.exampleV4)).toMatchObject({ code: 0 });
    expect(await flows(topo.node, 'tcp', DEST.inFiveV4, 4)).toEqual(Array(4).fill(topo.gateways[0].uplinkV4));
    expect(await flows(topo.node, 'udp', DEST.exampleV4, 4)).toEqual(Array(4).fill(topo.gateways[0].uplinkV4));
    expect((await topo.counters(0)).flows).toBeGreaterThanOrEqual(9);
    expect((await topo.counters(1)).flows).toBe(0);
    await a.waitForLog(status('basic', 'Applied'), 5_000, 'status Applied');
  });

  it('2-ecmp: two gateways give one multipath route, L4 hashing, and 64 TCP connections spread over both gateways', async () => {
    const dir = routesDir(topo, 'ecmp');
    writeRoutes(dir, 'route.yaml', example('2-ecmp.yaml'));
    await restartAgent(dir);
    const r = await until('multipath 0.0.0.0/5', 10_000, async () => {
      const x = await ownedRoute(topo.node, '0.0.0.0/5');
      return x?.gateways.length === 2 ? x : undefined;
    });
    expect(r.gateways).toEqual(['10.114.0.3', '10.114.0.4']);
    expect((await topo.node.must('sysctl', ['-n', 'net.ipv4.fib_multipath_hash_policy'])).trim()).toBe('1');
    await topo.resetCounters();
    const seen = await flows(topo.node, 'tcp', DEST.inFiveV4, 64);
    expect(seen).not.toContain('fail');
    const [c0, c1] = [await topo.counters(0), await topo.counters(1)];
    process.stdout.write(`ECMP spread of 64 TCP connections: gw0 ${c0.flows}, gw1 ${c1.flows}\n`);
    expect(c0.flows + c1.flows).toBe(64);
    expect(c0.flows).toBeGreaterThan(64 * 0.2);
    expect(c1.flows).toBeGreaterThan(64 * 0.2);
    expect(seen.filter((s) => s === topo.gateways[0].uplinkV4)).toHaveLength(c0.flows);
    const udp = await flows(topo.node, 'udp', DEST.inFiveV4, 32);
    expect(new Set(udp)).toEqual(new Set([topo.gateways[0].uplinkV4, topo.gateways[1].uplinkV4]));
  });

  it('an IPv6 Route with two gateways gives an IPv6 multipath route that spreads flows over both', async () => {
    const dir = routesDir(topo, 'v6');
    const [g0, g1] = topo.gateways;
    writeRoutes(dir, 'route.yaml', routeYaml('v6', ['2001:db8:5::/64'], [g0.vpcV6, g1.vpcV6]));
    await restartAgent(dir);
    const r = await until('IPv6 multipath route', 10_000, async () => {
      const x = await ownedRoute(topo.node, '2001:db8:5::/64');
      return x?.gateways.length === 2 ? x : undefined;
    });
    expect(r.gateways).toEqual([g0.vpcV6, g1.vpcV6].sort());
    const seen = await flows(topo.node, 'tcp', DEST.serverV6, 64);
    expect(seen).not.toContain('fail');
    expect(new Set(seen)).toEqual(new Set([g0.uplinkV6, g1.uplinkV6]));
  });

  const selection: { file: string; route: string; args: string[]; selected: boolean }[] = [
    { file: '4-node-pool.yaml', route: 'basic', args: ['--node-labels', 'doks.digitalocean.com/node-pool=worker-pool'], selected: true },
    { file: '4-node-pool.yaml', route: 'basic', args: ['--node-labels', 'doks.digitalocean.com/node-pool=other-pool'], selected: false },
    { file: '5-node-name.yaml', route: 'basic', args: ['--node-name', 'worker-pool-y'], selected: true },
    { file: '5-node-name.yaml', route: 'basic', args: ['--node-name', 'worker-pool-x'], selected: false },
  ];
  it.each(selection)('$file on a node with $args: selected=$selected', async ({ file, route, args, selected }) => {
    const dir = routesDir(topo, 'sel');
    writeRoutes(dir, 'route.yaml', example(file));
    // Start from a kernel without the route: a previous case may have left it (SIGTERM leaves routes in place).
    await agent?.stop();
    agent = undefined;
    await topo.node.exec('ip', ['route', 'del', '0.0.0.0/5']);
    const a = await restartAgent(dir, args);
    if (selected) {
      expect((await until('route', 10_000, () => ownedRoute(topo.node, '0.0.0.0/5'))).gateways).toEqual(['10.114.0.3']);
      await a.waitForLog(status(route, 'Applied'), 5_000, 'status Applied');
    } else {
      const l = await a.waitForLog(status(route, 'NotSelected'), 10_000, 'status NotSelected');
      expect(String(l.message)).not.toBe('');
      expect((await ownedRoutes(topo.node)).filter((x) => x.table === 'main')).toEqual([]);
    }
  });
});
