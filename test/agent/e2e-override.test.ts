/**
 * Default-route override through VPC gateways with the real agent (root, network namespaces): what `ip route get`
 * says before, during, across a restart and after the Route is removed; the control plane, the metadata stand-in and
 * the DNS server stay on the node's own gateway; replies to connections that came in on eth0 leave by eth0
 * (table 135, rule 15135), and the rule exists once after a restart.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DOKS_EXAMPLES_DIR } from '../fixtures/doks-examples.js';
import { runAgent } from '../lab/agent.js';
import { CONTROL_PLANE_V4, DEST, flows, listenTcp, METADATA_V4, NODE, routeGet, startEcho, until } from '../net/topology.js';
import { useTopology } from '../net/use-topology.js';
import { ownedRoute, ownedRoutes, routesDir, writeRoutes, type AgentProcess } from './agent-process.js';

const topo = useTopology({ gateways: 2 });
let agent: AgentProcess | undefined;
let dir: string;

const ORIGINAL = new RegExp(`via ${NODE.publicGatewayV4.replace(/\./g, '\\.')} dev eth0`);
const VIA_GATEWAY = /via 10\.114\.0\.[34] dev eth1/;
const KEPT = [CONTROL_PLANE_V4, METADATA_V4, DEST.dnsV4];
const example = (file: string) => readFileSync(join(DOKS_EXAMPLES_DIR, file), 'utf8');
const args = ['--control-plane-addresses', CONTROL_PLANE_V4];

async function start(): Promise<AgentProcess> {
  agent = await runAgent(topo.built, { routes: dir, args });
  return agent;
}

async function rules(priority: number, family: '-4' | '-6'): Promise<unknown[]> {
  return topo.node.ipJson<unknown[]>(family, 'rule', 'show', 'priority', String(priority));
}

beforeAll(async () => {
  // The API server stand-in (file mode confirms an override with a TCP connection to 443/6443) and the metadata service.
  topo.processes.push(await listenTcp(topo.controlPlane, CONTROL_PLANE_V4, 6443));
  topo.processes.push(await startEcho(topo.metadata, [METADATA_V4], 80));
  dir = routesDir(topo);
}, 60_000);

describe('default-route override (agent process, root, network namespaces)', () => {
  it('3-override then 6-override-ecmp: other traffic leaves through the VPC gateways, the control plane, metadata and DNS stay on eth0', async () => {
    for (const a of [DEST.otherV4, ...KEPT]) expect(await routeGet(topo.node, a)).toMatch(ORIGINAL);
    const originalDefault = await topo.node.ip('route', 'show', 'default');
    await start();

    writeRoutes(dir, 'override.yaml', example('3-override.yaml'));
    await until('override via 10.114.0.3', 10_000, async () => ((await routeGet(topo.node, DEST.otherV4)).includes('via 10.114.0.3 dev eth1') ? true : undefined));
    for (const a of KEPT) expect(await routeGet(topo.node, a)).toMatch(ORIGINAL);

    writeRoutes(dir, 'override.yaml', example('6-override-ecmp.yaml'));
    const half = await until('multipath override', 10_000, async () => {
      const r = await ownedRoute(topo.node, '0.0.0.0/1');
      return r?.gateways.length === 2 ? r : undefined;
    });
    expect(half.gateways).toEqual(['10.114.0.3', '10.114.0.4']);
    expect((await ownedRoute(topo.node, '128.0.0.0/1'))?.gateways).toEqual(['10.114.0.3', '10.114.0.4']);
    expect(await routeGet(topo.node, DEST.otherV4)).toMatch(VIA_GATEWAY);
    for (const a of KEPT) expect(await routeGet(topo.node, a)).toMatch(ORIGINAL);
    // The node's own default route is untouched: the override is a more specific pair.
    expect(await topo.node.ip('route', 'show', 'default')).toBe(originalDefault);

    // What users see: egress leaves from the gateways, the API server and metadata see the node itself.
    await topo.resetCounters();
    const seen = await flows(topo.node, 'tcp', DEST.otherV4, 64);
    expect(seen).not.toContain('fail');
    expect(new Set(seen)).toEqual(new Set(topo.gateways.map((g) => g.uplinkV4)));
    expect(await flows(topo.node, 'tcp', CONTROL_PLANE_V4, 2, { port: 6443 })).toEqual([NODE.publicV4, NODE.publicV4]);
    expect(await flows(topo.node, 'tcp', METADATA_V4, 1, { port: 80 })).toEqual([NODE.publicV4]);
    expect(await flows(topo.node, 'udp', DEST.dnsV4, 1)).toEqual([NODE.publicV4]);
    await agent?.waitForLog((l) => l.msg === 'override confirmed: the API server answers', 35_000, 'override confirmed');
  });

  it('replies to a connection that came in on eth0 leave by eth0 while the default route is overridden (table 135, rule 15135)', async () => {
    expect(await routeGet(topo.node, DEST.otherV4)).toMatch(VIA_GATEWAY);
    const server = await listenTcp(topo.node, NODE.publicV4, 8443);
    try {
      await topo.resetCounters();
      const seen = await flows(topo.internet, 'tcp', NODE.publicV4, 16, { port: 8443 });
      expect(seen).not.toContain('fail');
      expect((await topo.counters(0)).fromPublic + (await topo.counters(1)).fromPublic).toBe(0);
      expect(await routeGet(topo.node, '100.64.0.1', ['from', NODE.publicV4])).toMatch(ORIGINAL);
    } finally {
      server.kill();
    }
    expect(await rules(15135, '-4')).toHaveLength(1);
    expect(await rules(15135, '-6')).toHaveLength(1);
    const table135 = (await ownedRoutes(topo.node)).filter((r) => r.table === '135').map((r) => [r.dst, r.gateways]);
    expect(table135).toHaveLength(2);
    expect(table135).toEqual(expect.arrayContaining([['0.0.0.0/0', [NODE.publicGatewayV4]], ['::/0', [NODE.publicGatewayV6]]]));
  });

  it('across a restart in the middle of the override, ip route get says the same and rule 15135 exists once', async () => {
    const before = await Promise.all([DEST.otherV4, ...KEPT].map((a) => routeGet(topo.node, a)));
    const owned = await ownedRoutes(topo.node);
    expect(await agent?.stop()).toBe(0);
    // Stopped: everything stays in place.
    expect(await ownedRoutes(topo.node)).toEqual(owned);
    await start();
    expect(await Promise.all([DEST.otherV4, ...KEPT].map((a) => routeGet(topo.node, a)))).toEqual(before);
    expect(await ownedRoutes(topo.node)).toEqual(owned);
    expect(await rules(15135, '-4')).toHaveLength(1);
    expect(await rules(15135, '-6')).toHaveLength(1);
  });

  it('when the Route file is removed, the original default route is what ip route get says again', async () => {
    rmSync(join(dir, 'override.yaml'));
    await until('override gone', 10_000, async () => ((await ownedRoute(topo.node, '0.0.0.0/1')) ? undefined : true));
    for (const a of [DEST.otherV4, ...KEPT]) expect(await routeGet(topo.node, a)).toMatch(ORIGINAL);
    expect((await ownedRoutes(topo.node)).filter((r) => r.table === 'main')).toEqual([]);
    expect(await flows(topo.node, 'tcp', DEST.otherV4, 4)).toEqual(Array(4).fill(NODE.publicV4));
  });
});
