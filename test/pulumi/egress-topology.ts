/**
 * A small static-egress topology as a lab spec (test/lab/), for running the gateway Droplet's networking script:
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
import { buildLab, type Lab } from '../lab/lab.js';
import type { Netns, NetnsLab } from '../lab/netns.js';
import type { LabSpec } from '../lab/spec.js';
import { flows } from '../lab/traffic.js';

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

/** The topology as data: `count` gateways, their networking not yet configured (that is the script's job). */
export function egressSpec(count: number): LabSpec {
  const addrs = Array.from({ length: count }, (_, i) => gatewayAddresses(i));
  return {
    name: `static egress through ${count} gateway Droplets`,
    namespaces: {
      node: { label: 'a node on the VPC', addresses: { eth1: [`${NODE_VPC_IP}/16`] } },
      vpc: { label: 'VPC switch', bridges: ['br0'] },
      ...Object.fromEntries(addrs.map((a, i) => [`gw${i}`, {
        label: `gateway Droplet ${i}`,
        // The public address first: it is the source the gateway uses before the script moves the default route.
        addresses: { eth1: [`${a.vpcIp}/16`], eth0: [`${a.publicIp}/24`, `${a.anchorIp}/16`] },
        routes: [`default via ${PUBLIC_GW} dev eth0`],
      }])),
      'do-edge-standin': {
        standIn: "DigitalOcean's edge (anchor IP -> Reserved IP) and its metadata service",
        bridges: ['br0'],
        addresses: { br0: [`${PUBLIC_GW}/24`, `${ANCHOR_GW}/16`, '169.254.169.254/32'], uplink: ['192.0.2.1/24'] },
        forward: true,
        nat: { table: 'do_edge_standin', snat: Object.fromEntries(addrs.map((a) => [a.anchorIp, a.reservedIp])) },
        services: [{ name: 'metadata stand-in', script: metadataServer(addrs) }],
      },
      inet: {
        label: 'the internet',
        addresses: { eth0: [`${SERVER_IP}/24`] },
        routes: ['default via 192.0.2.1'],
        services: [{ name: 'echo server', echo: { addresses: [SERVER_IP], port: SERVER_PORT, tcpOnly: true } }],
      },
    },
    links: [['do-edge-standin:uplink', 'inet:eth0']],
    ports: { 'vpc:br0': ['node:eth1', ...addrs.map((_, i) => `gw${i}:eth1`)], 'do-edge-standin:br0': addrs.map((_, i) => `gw${i}:eth0`) },
  };
}

/** The built topology. */
export interface EgressTopology {
  readonly node: Netns;
  readonly gateways: Netns[];
  readonly edge: Netns;
  readonly internet: Netns;
  readonly processes: ChildProcess[];
  /** The lab it is built on. */
  readonly built: Lab;
}

/** The old entry point over a built lab. */
export function egressTopologyOf(built: Lab, count: number): EgressTopology {
  return {
    built, node: built.ns('node'), gateways: Array.from({ length: count }, (_, i) => built.ns(`gw${i}`)),
    edge: built.ns('do-edge-standin'), internet: built.ns('inet'), processes: built.processes,
  };
}

/** Builds the topology with `count` gateways in `lab`'s namespaces; `lab.cleanup()` removes them. */
export async function buildEgressTopology(lab: NetnsLab, count: number): Promise<EgressTopology> {
  return egressTopologyOf(await buildLab(egressSpec(count), { netns: lab }), count);
}

/** Runs the client in the node namespace: the addresses the server saw, one per connection, one after another. */
export function connectFromNode(node: Netns, connections: number): Promise<string[]> {
  return flows(node, 'tcp', SERVER_IP, connections, { port: SERVER_PORT, timeoutMs: 1000, sequential: true });
}
