/**
 * Issue 12's cases 1-4 against the real agent and kernel (root, network namespaces, file mode), on the
 * DigitalOcean-shaped node of test/net/topology.ts: what the node can still reach (`ip route get`, TCP to the API
 * server, ping to DNS, metadata and its neighbours) and what the Route status lines and events say. The rules are
 * docs/safety.md.
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runAgent } from '../lab/agent.js';
import { CONTROL_PLANE_V4, DEST, flows, listenTcp, METADATA_V4, NODE, pingOnce, routeGet, startEcho, until } from '../net/topology.js';
import { useTopology } from '../net/use-topology.js';
import { ownedRoute, ownedRoutes, routesDir, routeYaml, writeRoutes, type AgentProcess, type LogLine } from './agent-process.js';

// Built before the tests; the agents started in it stopped and it destroyed after them.
const topo = useTopology({ gateways: 2 });
let agent: AgentProcess;
let dir: string;
let apiServer: ChildProcess | undefined;

const ORIGINAL = new RegExp(`via ${NODE.publicGatewayV4.replace(/\./g, '\\.')} dev eth0`);
const GW3 = '10.114.0.3';
const GW4 = '10.114.0.4';
const LIFELINES = [CONTROL_PLANE_V4, METADATA_V4, DEST.dnsV4];

const METRICS_PORT = 19182;

/** One sample of the agent's /metrics, read inside the node namespace (where it listens on 127.0.0.1). */
async function metric(series: string): Promise<number | undefined> {
  const script = `fetch('http://127.0.0.1:${METRICS_PORT}/metrics').then(async (r) => process.stdout.write(await r.text()), () => process.exit(3))`;
  const r = await topo.node.exec(process.execPath, ['-e', script], { timeoutMs: 10_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const statusOf = (route: string, pred: (l: LogLine) => boolean = () => true) => (l: LogLine) => l.msg === 'route status' && l.route === route && pred(l);
const eventOf = (route: string, reason: string) => (l: LogLine) => l.msg === 'event' && l.route === route && l.reason === reason;

/** What the node can reach: its lifelines on eth0's gateway, and answering. */
async function expectLifelines(): Promise<void> {
  for (const a of LIFELINES) expect(await routeGet(topo.node, a)).toMatch(ORIGINAL);
  expect(await flows(topo.node, 'tcp', CONTROL_PLANE_V4, 1, { port: 6443 })).toEqual([NODE.publicV4]);
  expect((await pingOnce(topo.node, DEST.dnsV4)).code).toBe(0);
  expect((await pingOnce(topo.node, METADATA_V4)).code).toBe(0);
  expect(await flows(topo.node, 'tcp', METADATA_V4, 1, { port: 80 })).toEqual([NODE.publicV4]);
}

async function clear(): Promise<void> {
  for (const f of ['a.yaml', 'b.yaml', 'c.yaml']) rmSync(join(dir, f), { force: true });
  await until('no kroute route in the main table', 10_000, async () => ((await ownedRoutes(topo.node)).some((r) => r.table === 'main') ? undefined : true));
}

beforeAll(async () => {
  apiServer = await listenTcp(topo.controlPlane, CONTROL_PLANE_V4, 6443);
  topo.processes.push(apiServer);
  topo.processes.push(await startEcho(topo.metadata, [METADATA_V4], 80));
  dir = routesDir(topo);
  agent = await runAgent(topo.built, { routes: dir, args: ['--control-plane-addresses', CONTROL_PLANE_V4, '--override-confirm-seconds', '3', '--metrics-port', String(METRICS_PORT)] });
}, 60_000);

describe('issue 12 on a real kernel (agent process, root, network namespaces)', () => {
  afterEach(clear, 15_000);

  it('case 1: the /1 pair via a VPC gateway is an override: keep-routes hold the API server, DNS and metadata, and it is confirmed', async () => {
    const from = agent.logs.length;
    writeRoutes(dir, 'a.yaml', routeYaml('disguised', ['0.0.0.0/1', '128.0.0.0/1'], [GW3]));
    await until('the pair via .3', 10_000, async () => ((await routeGet(topo.node, DEST.otherV4)).includes(`via ${GW3} dev eth1`) ? true : undefined));
    await expectLifelines();
    // /metrics: the API server, DNS and metadata are kept on the node's own path inside the pair.
    await until('kept addresses in /metrics', 10_000, async () => ((await metric('kroute_protected_addresses_kept') ?? 0) >= 3 ? true : undefined));
    expect(await flows(topo.node, 'tcp', DEST.otherV4, 2)).toEqual([topo.gateways[0].uplinkV4, topo.gateways[0].uplinkV4]);
    const ev = await agent.waitForLog(eventOf('disguised', 'OverrideApplied'), 10_000, 'OverrideApplied');
    expect(ev.message).toMatch(/confirmed/);
    expect(agent.logs.slice(from).some(eventOf('disguised', 'OverrideRolledBack'))).toBe(false);
  });

  it('case 1: four /2 quarters are an override too: rolled back when the API server does not answer', async () => {
    apiServer?.kill('SIGKILL');
    try {
      writeRoutes(dir, 'a.yaml', routeYaml('quarters', ['0.0.0.0/2', '64.0.0.0/2', '128.0.0.0/2', '192.0.0.0/2'], [GW4]));
      const ev = await agent.waitForLog(eventOf('quarters', 'OverrideRolledBack'), 15_000, 'OverrideRolledBack');
      expect(ev.message).toMatch(/did not answer within 3s/);
      await until('quarters withdrawn', 10_000, async () => ((await ownedRoute(topo.node, '0.0.0.0/2')) ? undefined : true));
      expect(await routeGet(topo.node, DEST.otherV4)).toMatch(ORIGINAL);
      await agent.waitForLog(statusOf('quarters', (l) => l.reason === 'OverrideRolledBack'), 5_000, 'status OverrideRolledBack');
    } finally {
      apiServer = await listenTcp(topo.controlPlane, CONTROL_PLANE_V4, 6443);
      topo.processes.push(apiServer);
    }
  }, 40_000);

  it('case 2: metadata, the API server, the VPC subnet and the public gateway cannot be routed away; loopback and multicast are Invalid', async () => {
    writeRoutes(dir, 'a.yaml', [
      routeYaml('metadata', [`${METADATA_V4}/32`], [GW3]),
      routeYaml('apiserver', [`${CONTROL_PLANE_V4}/32`], [GW3]),
      routeYaml('vpc-part', ['10.114.0.0/24'], [GW3]),
      routeYaml('public-half', ['203.0.113.0/25'], [GW4]),
      routeYaml('never', ['127.0.0.0/8', '224.0.0.0/4'], [GW3]),
    ].join('---\n'));
    const says: [string, RegExp][] = [
      ['metadata', /169\.254\.169\.254\/32 is the metadata service/],
      ['apiserver', /198\.18\.0\.10\/32 is a control-plane endpoint/],
      ['vpc-part', /10\.114\.0\.0\/24 is inside the node's directly connected subnet 10\.114\.0\.0\/20.*10\.114\.0\.3/],
      ['public-half', /203\.0\.113\.0\/25 is inside the node's directly connected subnet 203\.0\.113\.0\/24.*203\.0\.113\.1 \(the node's own default gateway\)/],
    ];
    for (const [name, message] of says) {
      const s = await agent.waitForLog(statusOf(name, (l) => l.state === 'Failed'), 10_000, `${name} refused`);
      expect(s).toMatchObject({ reason: 'ProtectedDestination' });
      expect(s.message).toMatch(message);
      expect((await agent.waitForLog(eventOf(name, 'RouteRefused'), 5_000, `${name} event`)).message).toMatch(message);
    }
    const never = await agent.waitForLog(statusOf('never'), 10_000, 'never');
    expect(never).toMatchObject({ state: 'Invalid', reason: 'InvalidRoute' });
    expect(never.message).toMatch(/spec\.destinations\[0\].*loopback/);
    expect(never.message).toMatch(/spec\.destinations\[1\].*multicast/);
    expect((await ownedRoutes(topo.node)).filter((r) => r.table === 'main')).toEqual([]);
    await expectLifelines();
    // Neighbours stay on-link.
    expect(await routeGet(topo.node, GW4)).toMatch(/^10\.114\.0\.4 dev eth1/);
    expect(await routeGet(topo.node, NODE.publicGatewayV4)).toMatch(/^203\.0\.113\.1 dev eth0/);
    expect((await pingOnce(topo.node, GW4)).code).toBe(0);
    expect((await pingOnce(topo.node, NODE.publicGatewayV4)).code).toBe(0);
    // And /metrics counts the refusals per reason.
    const refused = async () => ({
      protectedAddress: await metric('kroute_destinations_refused{reason="protected_address"}'),
      connectedSubnet: await metric('kroute_destinations_refused{reason="connected_subnet"}'),
      protectedDestination: await metric('kroute_routes_refused{reason="ProtectedDestination"}'),
      invalid: await metric('kroute_routes_refused{reason="InvalidRoute"}'),
    });
    const want = { protectedAddress: 2, connectedSubnet: 2, protectedDestination: 4, invalid: 1 };
    await until('/metrics counts the refusals', 10_000, async () => (JSON.stringify(await refused()) === JSON.stringify(want) ? true : undefined)).catch(() => undefined);
    expect(await refused()).toEqual(want);
  });

  it('case 3: a Route covering the API server and DNS does not defeat an override: both kept, override confirmed, nobody blamed', async () => {
    writeRoutes(dir, 'b.yaml', routeYaml('a-cover', ['192.0.2.0/24', '198.18.0.0/24'], [GW4]));
    writeRoutes(dir, 'a.yaml', routeYaml('z-override', ['0.0.0.0/0'], [GW3]));
    await until('override via .3', 10_000, async () => ((await routeGet(topo.node, '100.64.0.1')).includes(`via ${GW3}`) ? true : undefined));
    await expectLifelines();
    // The rest of the covering Route's prefixes follow it.
    expect(await routeGet(topo.node, DEST.otherV4)).toMatch(/via 10\.114\.0\.4 dev eth1/);
    await agent.waitForLog(eventOf('z-override', 'OverrideApplied'), 10_000, 'override confirmed');
    const cover = await agent.waitForLog(statusOf('a-cover', (l) => typeof l.message === 'string' && l.message.includes('kept')), 5_000, 'a-cover kept');
    expect(cover).toMatchObject({ state: 'Applied' });
    expect(cover.message).toMatch(/kept on the node's own path: 198\.18\.0\.10 \(a control-plane endpoint \(API server\)\), 192\.0\.2\.53 \(a DNS server/);
    const last = agent.logs.filter(statusOf('z-override')).pop();
    expect(last).toMatchObject({ state: 'Applied', reason: 'Programmed' });
    expect(agent.logs.some(eventOf('z-override', 'OverrideRolledBack'))).toBe(false);
  });

  it('case 4: a slot taken by a Route with an off-link gateway stays with its holder, and goes when the holder goes', async () => {
    writeRoutes(dir, 'b.yaml', routeYaml('b-holder', ['10.70.0.0/16'], [GW3]));
    await until('10.70.0.0/16 via .3', 10_000, async () => ((await ownedRoute(topo.node, '10.70.0.0/16'))?.gateways.join() === GW3 ? true : undefined));
    writeRoutes(dir, 'a.yaml', routeYaml('a-taker', ['10.70.0.0/16'], ['10.99.0.1']));
    const taker = await agent.waitForLog(statusOf('a-taker'), 10_000, 'a-taker status');
    expect((await ownedRoute(topo.node, '10.70.0.0/16'))?.gateways).toEqual([GW3]);
    rmSync(join(dir, 'b.yaml'));
    await until('10.70.0.0/16 gone with its Route', 10_000, async () => ((await ownedRoute(topo.node, '10.70.0.0/16')) ? undefined : true));
    expect(await routeGet(topo.node, '10.70.0.1')).toMatch(ORIGINAL);
    expect(taker).toMatchObject({ state: 'Failed', reason: 'GatewayNotOnLink' });
    expect(taker.message).toMatch(/gateway 10\.99\.0\.1 is not on a network this node is connected to/);
  });

  it('case 4: an override moved to an off-link gateway withdraws the previous /1 pair and is not reported confirmed', async () => {
    writeRoutes(dir, 'a.yaml', routeYaml('moving', ['0.0.0.0/0'], [GW3]));
    await agent.waitForLog(eventOf('moving', 'OverrideApplied'), 10_000, 'first override confirmed');
    const from = agent.logs.length;
    writeRoutes(dir, 'a.yaml', routeYaml('moving', ['0.0.0.0/0'], ['10.99.0.1']));
    const s = await agent.waitForLogs(statusOf('moving', (l) => l.reason === 'GatewayNotOnLink'), 1, 10_000, from);
    expect(s[0]).toMatchObject({ state: 'Failed' });
    await until('the /1 pair gone', 10_000, async () => ((await ownedRoute(topo.node, '0.0.0.0/1')) || (await ownedRoute(topo.node, '128.0.0.0/1')) ? undefined : true));
    await expectLifelines();
    expect(await routeGet(topo.node, DEST.otherV4)).toMatch(ORIGINAL);
    expect(agent.logs.slice(from).some(eventOf('moving', 'OverrideApplied'))).toBe(false);
  });
});
