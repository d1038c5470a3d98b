/**
 * A small static-egress topology from NetnsLab primitives, for running the gateway Droplet's networking script:
 *
 *   node (eth1 10.10.0.10) ── [vpc bridge] ── gwN eth1 10.10.0.2N
 *   gwN eth0: public 198.51.100.1N/24, anchor 10.20.0.1N/16 ── [edge bridge] ── edge ── internet (server 192.0.2.80)
 *
 * The "edge" namespace is a LABELLED STAND-IN for DigitalOcean's network: it maps each gateway's anchor IP to its
 * Reserved IP (nft snat), as DigitalOcean's edge does, and it also hosts a STAND-IN metadata service on
 * 169.254.169.254 answering each gateway with its own anchor address and gateways. Nothing leaves these
 * namespaces: the "internet" is a namespace too.
 */
import type { ChildProcess } from 'node:child_process';
import { Netns, NetnsLab } from '../net/netns.js';

/** Addresses of one gateway Droplet. */
export interface GatewayAddresses {
  readonly vpcIp: string;
  readonly publicIp: string;
  readonly anchorIp: string;
  readonly reservedIp: string;
}

export const VPC_RANGE = '10.10.0.0/16';
export const NODE_VPC_IP = '10.10.0.10';
export const PUBLIC_GW = '198.51.100.1';
export const ANCHOR_GW = '10.20.0.1';
export const SERVER_IP = '192.0.2.80';
export const SERVER_PORT = 8080;

/** The gateways' addresses (the Reserved IPs are what the stand-in edge maps anchors to). */
export function gatewayAddresses(i: number): GatewayAddresses {
  return { vpcIp: `10.10.0.2${i}`, publicIp: `198.51.100.1${i}`, anchorIp: `10.20.0.1${i}`, reservedIp: `203.0.113.1${i}` };
}

/** STAND-IN metadata service: answers DigitalOcean's metadata paths per asking gateway (by its public IP). */
function metadataServer(gateways: readonly GatewayAddresses[]): string {
  const table = Object.fromEntries(gateways.map((g) => [g.publicIp, {
    'interfaces/public/0/anchor_ipv4/address': g.anchorIp,
    'interfaces/public/0/anchor_ipv4/gateway': ANCHOR_GW,
    'interfaces/public/0/ipv4/gateway': PUBLIC_GW,
  }]));
  return `const t = ${JSON.stringify(table)};
require('http').createServer((q, s) => {
  const who = t[q.socket.remoteAddress] || {};
  const v = who[q.url.replace('/metadata/v1/', '')];
  s.writeHead(v ? 200 : 404).end(v || 'not found');
}).listen(80, '169.254.169.254', () => console.log('ready'));`;
}

/** The "internet" server: tells each client the address it sees the connection come from. */
const ECHO_SERVER = `require('net').createServer((c) => { c.end(c.remoteAddress + '\\n'); })
  .listen(${SERVER_PORT}, '${SERVER_IP}', () => console.log('ready'));`;

/** Client: N sequential connections, each from a new source port; prints the address the server saw, or "fail". */
export const CLIENT = `const n = Number(process.argv[1]); const out = [];
const once = () => new Promise((res) => {
  const s = require('net').connect(${SERVER_PORT}, '${SERVER_IP}'); let d = '';
  const t = setTimeout(() => { s.destroy(); res('fail'); }, 1000);
  s.on('data', (x) => (d += x)); s.on('end', () => { clearTimeout(t); res(d.trim()); });
  s.on('error', () => { clearTimeout(t); res('fail'); });
});
(async () => { for (let i = 0; i < n; i++) out.push(await once()); console.log(JSON.stringify(out)); })();`;

function ready(p: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    p.on('exit', (code) => reject(new Error(`${what} exited (${code}): ${err}`)));
  });
}

/** The built topology. */
export interface EgressTopology {
  readonly node: Netns;
  readonly gateways: Netns[];
  readonly edge: Netns;
  readonly internet: Netns;
  readonly processes: ChildProcess[];
}

/** Builds the topology with `count` gateways, their networking not yet configured (that is the script's job). */
export async function buildEgressTopology(lab: NetnsLab, count: number): Promise<EgressTopology> {
  const node = await lab.add('node');
  const vpc = await lab.add('vpc');
  const edge = await lab.add('do-edge-standin');
  const internet = await lab.add('inet');
  await vpc.ip('link', 'add', 'br0', 'type', 'bridge');
  await vpc.ip('link', 'set', 'br0', 'up');
  await edge.ip('link', 'add', 'br0', 'type', 'bridge');
  await edge.ip('link', 'set', 'br0', 'up');

  await lab.link(node, 'eth1', vpc, 'node');
  await vpc.ip('link', 'set', 'node', 'master', 'br0');
  await node.ip('addr', 'add', `${NODE_VPC_IP}/16`, 'dev', 'eth1');

  const gateways: Netns[] = [];
  const addrs = Array.from({ length: count }, (_, i) => gatewayAddresses(i));
  for (const [i, a] of addrs.entries()) {
    const gw = await lab.add(`gw${i}`);
    gateways.push(gw);
    await lab.link(gw, 'eth1', vpc, `gw${i}`);
    await vpc.ip('link', 'set', `gw${i}`, 'master', 'br0');
    await gw.ip('addr', 'add', `${a.vpcIp}/16`, 'dev', 'eth1');
    await lab.link(gw, 'eth0', edge, `gw${i}`);
    await edge.ip('link', 'set', `gw${i}`, 'master', 'br0');
    // The public address first: it is the source the gateway uses before the script moves the default route.
    await gw.ip('addr', 'add', `${a.publicIp}/24`, 'dev', 'eth0');
    await gw.ip('addr', 'add', `${a.anchorIp}/16`, 'dev', 'eth0');
    await gw.ip('route', 'add', 'default', 'via', PUBLIC_GW, 'dev', 'eth0');
  }

  for (const addr of [`${PUBLIC_GW}/24`, `${ANCHOR_GW}/16`, '169.254.169.254/32']) await edge.ip('addr', 'add', addr, 'dev', 'br0');
  await lab.link(edge, 'uplink', internet, 'eth0');
  await edge.ip('addr', 'add', '192.0.2.1/24', 'dev', 'uplink');
  await internet.ip('addr', 'add', `${SERVER_IP}/24`, 'dev', 'eth0');
  await internet.ip('route', 'add', 'default', 'via', '192.0.2.1');
  await edge.sysctl('net.ipv4.ip_forward', '1');
  // STAND-IN for DigitalOcean's edge: anchor IP -> Reserved IP.
  const snat = addrs.map((a) => `ip saddr ${a.anchorIp} snat to ${a.reservedIp}`).join('\n    ');
  await edge.must('nft', ['-f', '-'], {
    input: `table ip do_edge_standin {\n  chain postrouting {\n    type nat hook postrouting priority srcnat;\n    ${snat}\n  }\n}\n`,
  });

  const processes = [edge.spawn('node', ['-e', metadataServer(addrs)]), internet.spawn('node', ['-e', ECHO_SERVER])];
  await Promise.all([ready(processes[0] as ChildProcess, 'metadata stand-in'), ready(processes[1] as ChildProcess, 'echo server')]);
  return { node, gateways, edge, internet, processes };
}

/** Runs the client in the node namespace: the addresses the server saw, one per connection. */
export async function connectFromNode(node: Netns, connections: number): Promise<string[]> {
  const r = await node.must('node', ['-e', CLIENT, String(connections)]);
  return JSON.parse(r.trim()) as string[];
}
