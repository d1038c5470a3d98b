/**
 * The gateway Droplet's networking script, exactly as its cloud-config carries it, run for real in gateway
 * network namespaces (needs root, iproute2, nftables and curl). DigitalOcean's edge and metadata service are
 * labelled stand-ins (test/pulumi/egress-topology.ts); the DigitalOcean API is not involved.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkLabTools } from '../lab/lab.js';
import { useLab } from '../lab/jest.js';
import { until } from '../lab/wait.js';
import type { Netns } from '../net/netns.js';
import { gatewayNetworkScript } from '../../pulumi-provider/digitalocean/index.js';
import { connectFromNode, egressSpec, egressTopologyOf, gatewayAddresses, VPC_RANGE, type EgressTopology } from './egress-topology.js';

const script = gatewayNetworkScript({ vpcIpRange: VPC_RANGE });
const scriptFile = join(mkdtempSync(join(tmpdir(), 'kroute-gw-')), 'kroute-gateway-network');
writeFileSync(scriptFile, script, { mode: 0o755 });

const lab = useLab(() => egressSpec(2));
let topo: EgressTopology;

async function runScript(gw: Netns): Promise<string> {
  return gw.must('sh', [scriptFile]);
}

/** Waits, with a deadline, until `n` connections in a row succeed; returns the addresses the server saw. */
async function untilSteady(node: Netns, n: number, deadlineMs: number): Promise<string[]> {
  return until(`${n} connections in a row`, deadlineMs, async () => {
    const seen = await connectFromNode(node, n);
    if (seen.includes('fail')) throw new Error(`connections still failing: ${seen.join(' ')}`);
    return seen;
  }, 0);
}

beforeAll(async () => {
  await checkLabTools(['ip', 'nft', 'curl']);
  topo = egressTopologyOf(lab, 2);
});

describe('gateway Droplet networking script (root, network namespaces)', () => {
  it('configures forwarding, keeps the metadata route, routes through the anchor gateway and NATs to the anchor IP', async () => {
    const [gw0] = topo.gateways;
    if (!gw0) throw new Error('no gateway');
    const a = gatewayAddresses(0);
    expect(await runScript(gw0)).toContain(`${VPC_RANGE} -> ${a.anchorIp} via 10.20.0.1 on eth0`);
    expect((await gw0.must('sysctl', ['-n', 'net.ipv4.ip_forward'])).trim()).toBe('1');
    expect(await gw0.ip('route', 'get', '192.0.2.80')).toMatch(/via 10\.20\.0\.1 dev eth0/);
    expect(await gw0.ip('route', 'get', '169.254.169.254')).toMatch(/via 198\.51\.100\.1 dev eth0/);
    const rules = await gw0.must('nft', ['list', 'table', 'ip', 'kroute_gateway']);
    // The source NAT goes to the anchor IP; the Reserved IP never appears on the Droplet.
    expect(rules).toMatch(new RegExp(`snat to ${a.anchorIp.replace(/\./g, '\\.')}`));
    expect(rules).not.toContain(a.reservedIp);
  });

  it('is idempotent: a second run (every boot) still reads the metadata and leaves one table', async () => {
    const [gw0] = topo.gateways;
    if (!gw0) throw new Error('no gateway');
    await runScript(gw0);
    const tables = await gw0.must('nft', ['list', 'tables']);
    expect(tables.match(/kroute_gateway/g)).toHaveLength(1);
  });

  it('through one gateway, the internet sees the node\'s connection come from the Reserved IP', async () => {
    await topo.node.ip('route', 'replace', 'default', 'via', gatewayAddresses(0).vpcIp, 'dev', 'eth1');
    expect(await connectFromNode(topo.node, 3)).toEqual(Array(3).fill(gatewayAddresses(0).reservedIp));
  });

  it('with two gateways, flows spread over both (ECMP) and, once the dead one leaves the route, all go by the other', async () => {
    const [gw0, gw1] = topo.gateways;
    if (!gw0 || !gw1) throw new Error('two gateways needed');
    await runScript(gw1);
    const node = topo.node;
    await node.sysctl('net.ipv4.fib_multipath_hash_policy', '1');
    const [a0, a1] = [gatewayAddresses(0), gatewayAddresses(1)];
    await node.ip('route', 'replace', 'default', 'nexthop', 'via', a0.vpcIp, 'dev', 'eth1', 'nexthop', 'via', a1.vpcIp, 'dev', 'eth1');

    const before = await connectFromNode(node, 24);
    expect(before).not.toContain('fail');
    expect(new Set(before)).toEqual(new Set([a0.reservedIp, a1.reservedIp]));

    // gw0 is lost. Taking its next hop out of the route is the agent's job (its prober; test/agent covers that,
    // with real traffic): here the node's route changes as the agent changes it, and what is under test is that
    // gw1's script alone carries every flow, NATed to its own Reserved IP. (An earlier version waited for the
    // kernel's neighbour entry to fail under fib_multipath_use_neigh: 20-45 s and flaky, as the entry is retried.)
    await gw0.ip('link', 'set', 'eth1', 'down');
    await node.ip('route', 'replace', 'default', 'via', a1.vpcIp, 'dev', 'eth1');
    const after = await untilSteady(node, 12, 10_000);
    expect(after).toEqual(Array(12).fill(a1.reservedIp));
  }, 90_000);
});
