/**
 * Issue 12, cases 5 and 6, against the real agent process (root, network namespaces, file mode): bad input never
 * costs routes, and the agent is closed by default.
 * - a YAML alias bomb written next to a good Route file: the agent keeps running, the routes stay, the problem is logged;
 * - a --routes path missing at start: owned routes already in the kernel stay (nothing is withdrawn);
 * - --route-protocol 16 (dhcp): refused before anything runs, naming the flag and the value, and the node's own
 *   routes are untouched;
 * - health and metrics answer on 127.0.0.1 of the node, never on its public address.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { NODE, until } from '../net/topology.js';
import { useTopology } from '../net/use-topology.js';
import { ownedRoute, routesDir, routeYaml, startAgent, writeRoutes, type AgentProcess } from './agent-process.js';

// Built before the tests; the agents started in it stopped and it destroyed after them.
const topo = useTopology({ gateways: 2 });
let agent: AgentProcess | undefined;
let dir: string;

const BOMB = [
  'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
].join('\n');
const HTTP = `const [h, p, path] = process.argv.slice(1); require('http').get({ host: h, port: Number(p), path, timeout: 1000 }, (r) => { console.log(r.statusCode); r.resume(); })
  .on('error', (e) => console.log('fail ' + e.code)).on('timeout', function () { this.destroy(); });`;

beforeAll(() => {
  dir = routesDir(topo);
});

describe('bad input and closed defaults (agent process, root, network namespaces)', () => {
  it('a YAML alias bomb beside a good file: the agent keeps running and the routes stay', async () => {
    writeRoutes(dir, 'good.yaml', routeYaml('egress', ['10.70.0.0/16'], ['10.114.0.3']));
    agent = startAgent(topo, dir);
    await until('10.70.0.0/16 programmed', 15_000, async () => ((await ownedRoute(topo.node, '10.70.0.0/16')) ? true : undefined));
    writeRoutes(dir, 'bomb.yaml', BOMB);
    const p = await agent.waitForLog((l) => l.msg === 'source problem' && String(l.subject).endsWith('bomb.yaml'), 10_000, 'the bomb reported');
    expect(String(p.problem)).toMatch(/alias/i);
    // Good content stays, and a Route added afterwards still arrives: the agent is alive and reading.
    writeRoutes(dir, 'more.yaml', routeYaml('more', ['10.71.0.0/16'], ['10.114.0.4']));
    await until('10.71.0.0/16 programmed', 10_000, async () => ((await ownedRoute(topo.node, '10.71.0.0/16')) ? true : undefined));
    expect((await ownedRoute(topo.node, '10.70.0.0/16'))?.gateways).toEqual(['10.114.0.3']);
    expect(await agent.stop()).toBe(0);
    agent = undefined;
  });

  it('restarted with the bomb still there, it starts and adopts the routes', async () => {
    agent = startAgent(topo, dir);
    await agent.waitForLog((l) => l.msg === 'applied', 15_000, 'the first apply');
    expect((await ownedRoute(topo.node, '10.70.0.0/16'))?.gateways).toEqual(['10.114.0.3']);
    expect(await agent.stop()).toBe(0);
    agent = undefined;
  });

  it('a --routes path missing at start withdraws nothing', async () => {
    agent = startAgent(topo, join(topo.dir, 'no-such-folder'), { args: ['--resync-seconds', '1', '--log-level', 'debug'] });
    await agent.waitForLog((l) => l.msg === 'the routes path cannot be read; nothing is applied or withdrawn until it can', 10_000, 'the missing path reported');
    // Two periodic resyncs come and go (a withdrawal would have happened on the first): the routes are still there.
    await agent.waitForLogs((l) => l.msg === 'reconcile requested' && l.why === 'periodic resync', 2, 10_000);
    expect((await ownedRoute(topo.node, '10.70.0.0/16'))?.gateways).toEqual(['10.114.0.3']);
    expect((await ownedRoute(topo.node, '10.71.0.0/16'))?.gateways).toEqual(['10.114.0.4']);
    expect(await agent.stop()).toBe(0);
    agent = undefined;
  });

  it('--route-protocol 16 (dhcp) is refused with the flag and value named, and nothing is touched', async () => {
    await topo.node.ip('route', 'add', '10.99.0.0/16', 'dev', 'eth1', 'proto', 'dhcp');
    const before = await topo.node.ip('route', 'show', 'table', 'all');
    const bad = startAgent(topo, dir, { args: ['--route-protocol', '16'] });
    expect(await bad.exited).toBe(2);
    expect(bad.text.join('\n')).toContain('kroute-agent: --route-protocol: "16" is the route protocol registered to dhcp');
    expect(await topo.node.ip('route', 'show', 'table', 'all')).toBe(before);
  });

  it('health and metrics answer on the node\'s 127.0.0.1, never on its public address', async () => {
    agent = startAgent(topo, dir, { args: ['--health-port', '9181', '--metrics-port', '9180'] });
    await agent.waitForLog((l) => l.msg === 'applied', 15_000, 'the first apply');
    const get = async (from: typeof topo.node, host: string, port: number, path: string) => (await from.must('node', ['-e', HTTP, host, String(port), path])).trim();
    await until('healthz on loopback', 10_000, async () => ((await get(topo.node, '127.0.0.1', 9181, '/healthz')) === '200' ? true : undefined));
    expect(await get(topo.node, '127.0.0.1', 9180, '/metrics')).toBe('200');
    for (const [port, path] of [[9181, '/healthz'], [9180, '/metrics']] as const) {
      expect(await get(topo.node, NODE.publicV4, port, path)).toMatch(/^fail/);
      expect(await get(topo.internet, NODE.publicV4, port, path)).toMatch(/^fail/);
    }
    rmSync(join(dir, 'bomb.yaml'));
  });
});
