/**
 * The end-to-end topology itself (root, network namespaces): with hand-written routes and no agent, traffic takes
 * the paths the agent tests rely on, and the gateways' counters count it. If this fails, the agent tests cannot
 * be trusted either way.
 */
import {
  buildTopology, CONTROL_PLANE_V4, DEST, flows, listenTcp, METADATA_V4, NODE, pingOnce, routeGet, setGatewayLink, startEcho, stopForwarding,
  resumeForwarding, type Topology,
} from './topology.js';

let topo: Topology;

beforeAll(async () => {
  topo = await buildTopology({ gateways: 2 });
}, 60_000);

afterAll(async () => {
  await topo?.destroy();
});

describe('test topology (root, network namespaces)', () => {
  it('without routes, the node reaches the internet, the control plane and the metadata stand-in through eth0 from its public address', async () => {
    expect(await routeGet(topo.node, DEST.inFiveV4)).toMatch(new RegExp(`via ${NODE.publicGatewayV4} dev eth0`));
    expect(await flows(topo.node, 'tcp', DEST.inFiveV4, 2)).toEqual([NODE.publicV4, NODE.publicV4]);
    expect(await flows(topo.node, 'udp', DEST.otherV4, 2)).toEqual([NODE.publicV4, NODE.publicV4]);
    expect(await flows(topo.node, 'tcp', DEST.serverV6, 1)).toEqual([NODE.publicV6]);
    const cp = await listenTcp(topo.controlPlane, CONTROL_PLANE_V4, 6443);
    const md = await startEcho(topo.metadata, [METADATA_V4], 80);
    try {
      expect(await flows(topo.node, 'tcp', CONTROL_PLANE_V4, 1, { port: 6443 })).toEqual([NODE.publicV4]);
      expect(await flows(topo.node, 'tcp', METADATA_V4, 1, { port: 80 })).toEqual([NODE.publicV4]);
      // The metadata stand-in hangs off the public gateway only: a gateway cannot reach it.
      expect(await flows(topo.gateways[0].ns, 'tcp', METADATA_V4, 1, { port: 80, timeoutMs: 500 })).toEqual(['fail']);
    } finally {
      cp.kill();
      md.kill();
    }
    expect((await topo.counters(0)).packets + (await topo.counters(1)).packets).toBe(0);
  });

  it('with a hand-written ECMP route and L4 hashing, 64 TCP flows spread over both gateways, counted at the gateways', async () => {
    const [g0, g1] = topo.gateways;
    await topo.node.sysctl('net.ipv4.fib_multipath_hash_policy', '1');
    await topo.node.ip('route', 'add', '0.0.0.0/5', 'nexthop', 'via', g0.vpcV4, 'nexthop', 'via', g1.vpcV4);
    await topo.resetCounters();
    const seen = await flows(topo.node, 'tcp', DEST.inFiveV4, 64);
    expect(seen).not.toContain('fail');
    const c0 = await topo.counters(0);
    const c1 = await topo.counters(1);
    expect(c0.flows + c1.flows).toBe(64);
    expect(c0.flows).toBeGreaterThan(64 * 0.2);
    expect(c1.flows).toBeGreaterThan(64 * 0.2);
    // What the server saw agrees with the counters: the gateways' masquerade addresses, as many as each counted.
    expect(seen.filter((a) => a === g0.uplinkV4)).toHaveLength(c0.flows);
    expect(seen.filter((a) => a === g1.uplinkV4)).toHaveLength(c1.flows);
    expect(await pingOnce(topo.node, DEST.exampleV4)).toMatchObject({ code: 0 });
    await topo.node.ip('route', 'del', '0.0.0.0/5');
  });

  it('IPv6 ECMP through the gateways works too', async () => {
    const [g0, g1] = topo.gateways;
    await topo.node.sysctl('net.ipv6.fib_multipath_hash_policy', '1');
    await topo.node.ip('-6', 'route', 'add', '2001:db8:5::/64', 'nexthop', 'via', g0.vpcV6, 'dev', 'eth1', 'nexthop', 'via', g1.vpcV6, 'dev', 'eth1');
    const seen = await flows(topo.node, 'tcp', DEST.serverV6, 32);
    expect(new Set(seen)).toEqual(new Set([g0.uplinkV6, g1.uplinkV6]));
    await topo.node.ip('-6', 'route', 'del', '2001:db8:5::/64');
  });

  it('a gateway with forwarding stopped still answers pings but drops flows; a cut link answers nothing', async () => {
    const g0 = topo.gateways[0];
    await topo.node.ip('route', 'add', `${DEST.inFiveV4}/32`, 'via', g0.vpcV4);
    expect(await flows(topo.node, 'tcp', DEST.inFiveV4, 1)).toEqual([g0.uplinkV4]);
    await stopForwarding(g0, 'nft');
    expect(await pingOnce(topo.node, g0.vpcV4)).toMatchObject({ code: 0 });
    expect(await flows(topo.node, 'tcp', DEST.inFiveV4, 1, { timeoutMs: 500 })).toEqual(['fail']);
    await resumeForwarding(g0);
    await stopForwarding(g0, 'sysctl');
    expect(await pingOnce(topo.node, g0.vpcV4)).toMatchObject({ code: 0 });
    expect(await flows(topo.node, 'tcp', DEST.inFiveV4, 1, { timeoutMs: 500 })).toEqual(['fail']);
    await resumeForwarding(g0);
    expect(await flows(topo.node, 'tcp', DEST.inFiveV4, 1)).toEqual([g0.uplinkV4]);
    await setGatewayLink(g0, false);
    expect((await pingOnce(topo.node, g0.vpcV4)).code).not.toBe(0);
    await setGatewayLink(g0, true);
    await topo.node.ip('route', 'del', `${DEST.inFiveV4}/32`);
  });

  it('with the default route on a VPC gateway and no table 135, a connection to the public address from the internet fails (the symmetric-routing test can fail)', async () => {
    const g0 = topo.gateways[0];
    const server = await listenTcp(topo.node, NODE.publicV4, 8443);
    try {
      expect(await flows(topo.internet, 'tcp', NODE.publicV4, 1, { port: 8443 })).toEqual([expect.stringMatching(/^100\.64\.0\.1$/)]);
      await topo.node.ip('route', 'add', '0.0.0.0/1', 'via', g0.vpcV4);
      await topo.node.ip('route', 'add', '128.0.0.0/1', 'via', g0.vpcV4);
      await topo.resetCounters();
      expect(await flows(topo.internet, 'tcp', NODE.publicV4, 1, { port: 8443, timeoutMs: 1000 })).toEqual(['fail']);
      expect((await topo.counters(0)).fromPublic).toBeGreaterThan(0);
    } finally {
      server.kill();
      await topo.node.exec('ip', ['route', 'del', '0.0.0.0/1']);
      await topo.node.exec('ip', ['route', 'del', '128.0.0.0/1']);
    }
  });
});
