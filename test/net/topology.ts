/**
 * A DigitalOcean-shaped node in network namespaces, for end-to-end tests of the agent with a real kernel and real
 * traffic. Every address lives in namespaces this file creates; nothing reaches the machine's own network.
 *
 *   node ── eth0 203.0.113.10/24 ──[pub switch]── pubgw 203.0.113.1 ── inet (100.64.0.1) ── cp 198.18.0.10
 *        │                                          └── metadata 169.254.169.254 (link-local, only via pubgw)
 *        └─ eth1 10.114.0.2/20 ──[vpc switch]── gwN 10.114.0.(3+N) ── eth0 198.51.100.(10+N) ──[gw switch]── inet
 *
 * - The node's own default route goes via 203.0.113.1 dev eth0 (DigitalOcean: eth0 public, eth1 VPC).
 * - Gateways forward and masquerade to their uplink address, so the internet sees which gateway a flow took;
 *   their nftables counters count forwarded flows and packets (`gatewayCounters`).
 * - The "internet" namespace holds the destinations on its loopback: addresses inside DigitalOcean's example prefix
 *   1.2.3.4/5 (i.e. 0.0.0.0/5) and TEST-NET addresses, plus the DNS server's address.
 * - The control plane is its own namespace behind the internet (for an API server, or a TCP listener); the metadata
 *   stand-in hangs off the public gateway only, so it answers only when the node reaches it through eth0.
 * - IPv6: the same shape with documentation prefixes (node eth1 fd00:114::2, gateways fd00:114::3/::4, server
 *   2001:db8:5::80), for an ECMP IPv6 case.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Netns, NetnsLab, hasCommand, type Exec } from './netns.js';

/** The node's addresses and the segments around it. */
export const NODE = {
  publicV4: '203.0.113.10',
  publicV6: '2001:db8:1::10',
  vpcV4: '10.114.0.2',
  vpcV6: 'fd00:114::2',
  publicGatewayV4: '203.0.113.1',
  publicGatewayV6: '2001:db8:1::1',
} as const;

/** The VPC range, as on DOKS. */
export const VPC_V4 = '10.114.0.0/20';
/** Where the internet namespace routes the node's public prefix (the public gateway's uplink). */
const PUBGW_UPLINK = { v4: '100.64.0.2', v6: '2001:db8:ff::2' };
const INET_UPLINK = { v4: '100.64.0.1', v6: '2001:db8:ff::1' };

/** Destinations held by the internet namespace. */
export const DEST = {
  /** Inside DigitalOcean's example prefix 1.2.3.4/5 (= 0.0.0.0/5). */
  inFiveV4: '5.6.7.8',
  /** Also inside 0.0.0.0/5 (the literal example address). */
  exampleV4: '1.2.3.4',
  /** Outside 0.0.0.0/5: reached by the default route (or an override). */
  otherV4: '192.0.2.80',
  /** IPv6 server. */
  serverV6: '2001:db8:5::80',
  /** A nameserver address (listed in the node's resolv.conf file). */
  dnsV4: '192.0.2.53',
} as const;

/** The control plane (API server) address and the metadata service's. */
export const CONTROL_PLANE_V4 = '198.18.0.10';
export const METADATA_V4 = '169.254.169.254';
/** The port of the TCP/UDP echo servers in the internet namespace. */
export const ECHO_PORT = 7007;

/** One VPC gateway. */
export interface GatewayInfo {
  readonly ns: Netns;
  readonly vpcV4: string;
  readonly vpcV6: string;
  /** The uplink address it masquerades to: what the internet sees. */
  readonly uplinkV4: string;
  readonly uplinkV6: string;
}

/** Counters read from a gateway's nftables table. */
export interface GatewayCounters {
  /** New connections forwarded from the VPC (conntrack state new). */
  readonly flows: number;
  /** Packets forwarded from the VPC. */
  readonly packets: number;
  /** Packets forwarded from the VPC whose source is the node's public address (asymmetric replies). */
  readonly fromPublic: number;
}

/** Options of the topology. */
export interface TopologyProps {
  /** Number of VPC gateways. @default 2 */
  readonly gateways?: number;
  /** Start the TCP/UDP echo servers in the internet namespace. @default true */
  readonly echo?: boolean;
}

/** The built topology; `destroy()` removes everything, also after a failure. */
export interface Topology {
  readonly lab: NetnsLab;
  readonly node: Netns;
  readonly publicGateway: Netns;
  readonly gateways: readonly GatewayInfo[];
  readonly internet: Netns;
  readonly controlPlane: Netns;
  readonly metadata: Netns;
  /** A resolv.conf for the node listing DEST.dnsV4 (pass it as --resolv-conf). */
  readonly resolvConf: string;
  /** A scratch folder removed by destroy() (route files). */
  readonly dir: string;
  /** Long-running helpers (echo servers); stopped by destroy(). */
  readonly processes: ChildProcess[];
  counters(i: number): Promise<GatewayCounters>;
  resetCounters(): Promise<void>;
  destroy(): Promise<void>;
}

const COUNT_TABLE = 'kroute_count';
const STOP_TABLE = 'kroute_stop';

function gatewayNft(nodePublic: string): string {
  return `table inet ${COUNT_TABLE} {
  counter c_flows {}
  counter c_packets {}
  counter c_from_public {}
  chain forward {
    type filter hook forward priority -10; policy accept;
    iifname "eth1" ct state new counter name "c_flows"
    iifname "eth1" counter name "c_packets"
    iifname "eth1" ip saddr ${nodePublic} counter name "c_from_public"
  }
}
table inet kroute_nat {
  chain postrouting {
    type nat hook postrouting priority srcnat;
    oifname "eth0" masquerade
  }
}
`;
}

/** Echo servers: TCP answers the address the connection came from; UDP answers the same. */
const ECHO_SERVER = `const net = require('net'), dgram = require('dgram');
const port = Number(process.argv[1]); const addrs = process.argv.slice(2);
let n = 0; const ok = () => { if (++n === addrs.length * 2) console.log('ready'); };
for (const a of addrs) {
  net.createServer((c) => { c.on('error', () => {}); c.end(c.remoteAddress + '\\n'); }).listen(port, a, ok);
  const u = dgram.createSocket(a.includes(':') ? 'udp6' : 'udp4');
  u.on('message', (m, r) => u.send(r.address + '\\n', r.port, r.address));
  u.bind(port, a, ok);
}`;

/** Client: N TCP connections (each a new source port) or UDP datagrams (each a new socket); prints what the server saw. */
const CLIENT = `const [proto, host, port, count, timeout] = process.argv.slice(1);
const net = require('net'), dgram = require('dgram');
const tcp = () => new Promise((res) => {
  const s = net.connect(Number(port), host); let d = '';
  const t = setTimeout(() => { s.destroy(); res('fail'); }, Number(timeout));
  s.on('data', (x) => (d += x)); s.on('end', () => { clearTimeout(t); res(d.trim() || 'fail'); });
  s.on('error', () => { clearTimeout(t); res('fail'); });
});
const udp = () => new Promise((res) => {
  const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const t = setTimeout(() => { s.close(); res('fail'); }, Number(timeout));
  s.on('message', (m) => { clearTimeout(t); s.close(); res(m.toString().trim()); });
  s.on('error', () => { clearTimeout(t); s.close(); res('fail'); });
  s.send('hi', Number(port), host);
});
(async () => { const out = await Promise.all(Array.from({ length: Number(count) }, () => (proto === 'udp' ? udp() : tcp())));
  console.log(JSON.stringify(out)); })();`;

function ready(p: ChildProcess, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    p.stdout?.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    p.on('exit', (code) => reject(new Error(`${what} exited (${code}): ${err}`)));
  });
}

/** Starts echo servers (TCP and UDP on `port`) on `addresses` inside `ns`; resolves once they listen. */
export async function startEcho(ns: Netns, addresses: readonly string[], port = ECHO_PORT): Promise<ChildProcess> {
  const p = ns.spawn('node', ['-e', ECHO_SERVER, String(port), ...addresses]);
  await ready(p, `echo server in ${ns.name}`);
  return p;
}

/**
 * Opens `count` connections (TCP) or datagram exchanges (UDP) at once from `from` to host:port; returns, per flow,
 * the address the server saw the flow come from, or "fail".
 */
export async function flows(from: Netns, proto: 'tcp' | 'udp', host: string, count: number, opts: { port?: number; timeoutMs?: number } = {}): Promise<string[]> {
  const r = await from.must('node', ['-e', CLIENT, proto, host, String(opts.port ?? ECHO_PORT), String(count), String(opts.timeoutMs ?? 2000)]);
  return JSON.parse(r.trim()) as string[];
}

/** Tools the topology needs. */
export async function checkTopologyPrerequisites(): Promise<void> {
  for (const tool of ['ip', 'nft', 'ping', 'sysctl']) {
    if (!(await hasCommand(tool))) throw new Error(`network-namespace tests need ${tool} (apt-get install iproute2 nftables iputils-ping procps)`);
  }
}

async function sw(lab: NetnsLab, role: string): Promise<Netns> {
  const s = await lab.add(role);
  await s.ip('link', 'add', 'br0', 'type', 'bridge');
  await s.ip('link', 'set', 'br0', 'up');
  return s;
}

async function port(lab: NetnsLab, swNs: Netns, portName: string, ns: Netns, ifName: string): Promise<void> {
  await lab.link(ns, ifName, swNs, portName);
  await swNs.ip('link', 'set', portName, 'master', 'br0');
}

async function forwarding(ns: Netns): Promise<void> {
  await ns.sysctl('net.ipv4.ip_forward', '1');
  await ns.sysctl('net.ipv6.conf.all.forwarding', '1');
}

/** Builds the topology. On failure, what was built is torn down before the error is thrown. */
export async function buildTopology(props: TopologyProps = {}): Promise<Topology> {
  await checkTopologyPrerequisites();
  const lab = new NetnsLab();
  const processes: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-`));
  const destroy = async () => {
    for (const p of processes.splice(0)) p.kill('SIGKILL');
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const node = await lab.add('node');
    const pubSw = await sw(lab, 'pubsw');
    const vpcSw = await sw(lab, 'vpcsw');
    const publicGateway = await lab.add('pubgw');
    const internet = await lab.add('inet');
    const controlPlane = await lab.add('cp');
    const metadata = await lab.add('metadata-standin');

    // Node: eth0 public, eth1 VPC; its own default routes via eth0's gateway.
    await port(lab, pubSw, 'node', node, 'eth0');
    await port(lab, vpcSw, 'node', node, 'eth1');
    await node.ip('addr', 'add', `${NODE.publicV4}/24`, 'dev', 'eth0');
    await node.ip('-6', 'addr', 'add', `${NODE.publicV6}/64`, 'dev', 'eth0', 'nodad');
    await node.ip('addr', 'add', `${NODE.vpcV4}/20`, 'dev', 'eth1');
    await node.ip('-6', 'addr', 'add', `${NODE.vpcV6}/64`, 'dev', 'eth1', 'nodad');
    await node.ip('route', 'add', 'default', 'via', NODE.publicGatewayV4, 'dev', 'eth0');
    await node.ip('-6', 'route', 'add', 'default', 'via', NODE.publicGatewayV6, 'dev', 'eth0');

    // Public gateway: the node's segment, the internet uplink, and the metadata stand-in behind it.
    await port(lab, pubSw, 'pubgw', publicGateway, 'eth0');
    await publicGateway.ip('addr', 'add', `${NODE.publicGatewayV4}/24`, 'dev', 'eth0');
    await publicGateway.ip('-6', 'addr', 'add', `${NODE.publicGatewayV6}/64`, 'dev', 'eth0', 'nodad');
    await lab.link(publicGateway, 'uplink', internet, 'pubgw');
    await publicGateway.ip('addr', 'add', `${PUBGW_UPLINK.v4}/30`, 'dev', 'uplink');
    await publicGateway.ip('-6', 'addr', 'add', `${PUBGW_UPLINK.v6}/64`, 'dev', 'uplink', 'nodad');
    await publicGateway.ip('route', 'add', 'default', 'via', INET_UPLINK.v4);
    await publicGateway.ip('-6', 'route', 'add', 'default', 'via', INET_UPLINK.v6);
    await lab.link(publicGateway, 'md', metadata, 'eth0');
    await publicGateway.ip('addr', 'add', '169.254.0.1/16', 'dev', 'md');
    await metadata.ip('addr', 'add', `${METADATA_V4}/16`, 'dev', 'eth0');
    await metadata.ip('route', 'add', 'default', 'via', '169.254.0.1');
    await forwarding(publicGateway);

    // Internet: destinations on loopback, routes back to the public prefix and to the control plane.
    await internet.ip('addr', 'add', `${INET_UPLINK.v4}/30`, 'dev', 'pubgw');
    await internet.ip('-6', 'addr', 'add', `${INET_UPLINK.v6}/64`, 'dev', 'pubgw', 'nodad');
    for (const a of [DEST.inFiveV4, DEST.exampleV4, DEST.otherV4, DEST.dnsV4]) await internet.ip('addr', 'add', `${a}/32`, 'dev', 'lo');
    await internet.ip('-6', 'addr', 'add', `${DEST.serverV6}/128`, 'dev', 'lo', 'nodad');
    await internet.ip('route', 'add', '203.0.113.0/24', 'via', PUBGW_UPLINK.v4);
    await internet.ip('-6', 'route', 'add', '2001:db8:1::/64', 'via', PUBGW_UPLINK.v6);
    await lab.link(internet, 'cp', controlPlane, 'eth0');
    await internet.ip('addr', 'add', '198.18.0.1/24', 'dev', 'cp');
    await controlPlane.ip('addr', 'add', `${CONTROL_PLANE_V4}/24`, 'dev', 'eth0');
    await controlPlane.ip('route', 'add', 'default', 'via', '198.18.0.1');
    await forwarding(internet);

    // VPC gateways: forward and masquerade to their uplink, count what they forward.
    const gateways: GatewayInfo[] = [];
    const gatewayCount = props.gateways ?? 2;
    const gwSw = await sw(lab, 'gwsw');
    await port(lab, gwSw, 'inet', internet, 'gws');
    await internet.ip('addr', 'add', '198.51.100.9/24', 'dev', 'gws');
    await internet.ip('-6', 'addr', 'add', '2001:db8:fe::1/64', 'dev', 'gws', 'nodad');
    for (let i = 0; i < gatewayCount; i++) {
      const ns = await lab.add(`gw${i}`);
      const g: GatewayInfo = { ns, vpcV4: `10.114.0.${3 + i}`, vpcV6: `fd00:114::${3 + i}`, uplinkV4: `198.51.100.${10 + i}`, uplinkV6: `2001:db8:fe::${10 + i}` };
      await port(lab, vpcSw, `gw${i}`, ns, 'eth1');
      await port(lab, gwSw, `gw${i}`, ns, 'eth0');
      await ns.ip('addr', 'add', `${g.vpcV4}/20`, 'dev', 'eth1');
      await ns.ip('-6', 'addr', 'add', `${g.vpcV6}/64`, 'dev', 'eth1', 'nodad');
      await ns.ip('addr', 'add', `${g.uplinkV4}/24`, 'dev', 'eth0');
      await ns.ip('-6', 'addr', 'add', `${g.uplinkV6}/64`, 'dev', 'eth0', 'nodad');
      await ns.ip('route', 'add', 'default', 'via', '198.51.100.9');
      await ns.ip('-6', 'route', 'add', 'default', 'via', '2001:db8:fe::1');
      await forwarding(ns);
      await ns.must('nft', ['-f', '-'], { input: gatewayNft(NODE.publicV4) });
      gateways.push(g);
    }

    const resolvConf = join(dir, 'resolv.conf');
    writeFileSync(resolvConf, `nameserver ${DEST.dnsV4}\n`);
    if (props.echo ?? true) {
      processes.push(await startEcho(internet, [DEST.inFiveV4, DEST.exampleV4, DEST.otherV4, DEST.dnsV4, DEST.serverV6]));
    }

    const counters = async (i: number): Promise<GatewayCounters> => {
      const g = gateways[i];
      if (!g) throw new Error(`no gateway ${i}`);
      const out = JSON.parse(await g.ns.must('nft', ['-j', 'list', 'counters', 'table', 'inet', COUNT_TABLE])) as {
        nftables: { counter?: { name: string; packets: number } }[];
      };
      const get = (name: string) => out.nftables.find((x) => x.counter?.name === name)?.counter?.packets ?? 0;
      return { flows: get('c_flows'), packets: get('c_packets'), fromPublic: get('c_from_public') };
    };
    const resetCounters = async () => {
      for (const g of gateways) await g.ns.must('nft', ['reset', 'counters', 'table', 'inet', COUNT_TABLE]);
    };
    return { lab, node, publicGateway, gateways, internet, controlPlane, metadata, resolvConf, dir, processes, counters, resetCounters, destroy };
  } catch (e) {
    await destroy();
    throw e;
  }
}

/** Stops a gateway from forwarding while it still answers pings and ARP (a broken NAT box): `nft` drops, `sysctl` turns ip_forward off. */
export async function stopForwarding(g: GatewayInfo, how: 'nft' | 'sysctl' = 'nft'): Promise<void> {
  if (how === 'sysctl') {
    await g.ns.sysctl('net.ipv4.ip_forward', '0');
    await g.ns.sysctl('net.ipv6.conf.all.forwarding', '0');
    return;
  }
  await g.ns.must('nft', ['-f', '-'], { input: `table inet ${STOP_TABLE} {\n  chain forward {\n    type filter hook forward priority -20; policy drop;\n  }\n}\n` });
}

/** Undoes `stopForwarding` (both ways). */
export async function resumeForwarding(g: GatewayInfo): Promise<void> {
  await forwarding(g.ns);
  const tables = await g.ns.must('nft', ['list', 'tables']);
  if (tables.includes(STOP_TABLE)) await g.ns.must('nft', ['delete', 'table', 'inet', STOP_TABLE]);
}

/** Cuts (or restores) a gateway's VPC link, as a dead Droplet would look. */
export async function setGatewayLink(g: GatewayInfo, up: boolean): Promise<void> {
  await g.ns.ip('link', 'set', 'eth1', up ? 'up' : 'down');
}

/** `ip route get ADDR` in the node, as text ("... via X dev Y ..."). */
export async function routeGet(ns: Netns, address: string, extra: readonly string[] = []): Promise<string> {
  return (await ns.ip('route', 'get', address, ...extra)).trim();
}

/** Polls `check` until it returns a value other than undefined, or throws after `deadlineMs` with the last reason. */
export async function until<T>(what: string, deadlineMs: number, check: () => Promise<T | undefined>, pollMs = 50): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, pollMs);
      t.unref?.();
    });
  }
}

/** A TCP listener in `ns` on address:port (e.g. the control plane's 6443 for file-mode override confirmation). */
export async function listenTcp(ns: Netns, address: string, tcpPort: number): Promise<ChildProcess> {
  const p = ns.spawn('node', ['-e', `require('net').createServer((c) => { c.on('error', () => {}); c.end(c.remoteAddress + '\\n'); }).listen(${tcpPort}, '${address}', () => console.log('ready'));`]);
  await ready(p, `listener ${address}:${tcpPort}`);
  return p;
}

/** Pings once from `ns`; the exit status. */
export function pingOnce(ns: Netns, address: string, timeoutSeconds = 1): Promise<Exec> {
  return ns.exec('ping', ['-n', '-q', '-c', '1', '-W', String(timeoutSeconds), ...(address.includes(':') ? ['-6'] : []), address]);
}
