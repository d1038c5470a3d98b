/**
 * A DigitalOcean-shaped node in network namespaces, for end-to-end tests of the agent with a real kernel and real
 * traffic: a spec on the test lab (test/lab/), plus the entry points the tests have always used. Every address
 * lives in namespaces the lab creates; nothing reaches the machine's own network.
 *
 *   node ── eth0 203.0.113.10/24 ──[pub switch]── pubgw 203.0.113.1 ── inet (100.64.0.1) ── cp 198.18.0.10
 *        │                                          └── metadata 169.254.169.254 (link-local, only via pubgw)
 *        └─ eth1 10.114.0.2/20 ──[vpc switch]── gwN 10.114.0.(3+N) ── eth0 198.51.100.(10+N) ──[gw switch]── inet
 *
 * - The node's own default route goes via 203.0.113.1 dev eth0 (DigitalOcean: eth0 public, eth1 VPC).
 * - Gateways forward and masquerade to their uplink address, so the internet sees which gateway a flow took;
 *   their nftables counters count forwarded flows and packets (`counters`).
 * - The "internet" namespace holds the destinations on its loopback: addresses inside DigitalOcean's example prefix
 *   1.2.3.4/5 (i.e. 0.0.0.0/5) and TEST-NET addresses, plus the DNS server's address.
 * - The control plane is its own namespace behind the internet (for an API server, or a TCP listener); the metadata
 *   stand-in hangs off the public gateway only, so it answers only when the node reaches it through eth0.
 * - IPv6: the same shape with documentation prefixes (node eth1 fd00:114::2, gateways fd00:114::3/::4, server
 *   2001:db8:5::80), for an ECMP IPv6 case.
 */
import type { ChildProcess } from 'node:child_process';
import { buildLab, checkLabTools, type Lab } from '../lab/lab.js';
import type { LabSpec, NamespaceSpec } from '../lab/spec.js';
import type { Netns, NetnsLab } from './netns.js';
import { resumeForwarding as resume, setLink, stopForwarding as stop, type FlowCounters } from '../lab/traffic.js';

export { flows, listenTcp, pingOnce, routeGet, startEcho, ECHO_PORT } from '../lab/traffic.js';
export { until } from '../lab/wait.js';

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
export type GatewayCounters = FlowCounters;

/** Options of the topology. */
export interface TopologyProps {
  /** Number of VPC gateways. @default 2 */
  readonly gateways?: number;
  /** Start the TCP/UDP echo servers in the internet namespace. @default true */
  readonly echo?: boolean;
}

/** The built topology; `destroy()` removes everything, also after a failure. */
export interface Topology {
  /** The lab it is built on (namespaces by role, describe(), onDestroy()). */
  readonly built: Lab;
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

const gw = (i: number) => ({ vpcV4: `10.114.0.${3 + i}`, vpcV6: `fd00:114::${3 + i}`, uplinkV4: `198.51.100.${10 + i}`, uplinkV6: `2001:db8:fe::${10 + i}` });

/** The topology as data. */
export function doNodeSpec(props: TopologyProps = {}): LabSpec {
  const n = props.gateways ?? 2;
  const ids = Array.from({ length: n }, (_, i) => i);
  const gateways: Record<string, NamespaceSpec> = Object.fromEntries(ids.map((i) => [`gw${i}`, {
    label: `VPC gateway ${i}: forwards and masquerades to its uplink, counts flows`,
    addresses: { eth1: [`${gw(i).vpcV4}/20`, `${gw(i).vpcV6}/64`], eth0: [`${gw(i).uplinkV4}/24`, `${gw(i).uplinkV6}/64`] },
    routes: ['default via 198.51.100.9', 'default via 2001:db8:fe::1'],
    forward: true, nat: { masquerade: 'eth0' }, count: { iif: 'eth1', watch: NODE.publicV4 },
  }]));
  const inet = [DEST.inFiveV4, DEST.exampleV4, DEST.otherV4, DEST.dnsV4];
  return {
    name: `DigitalOcean-shaped node with ${n} VPC gateways`,
    namespaces: {
      node: {
        label: 'the node: eth0 public, eth1 VPC',
        addresses: { eth0: [`${NODE.publicV4}/24`, `${NODE.publicV6}/64`], eth1: [`${NODE.vpcV4}/20`, `${NODE.vpcV6}/64`] },
        routes: [`default via ${NODE.publicGatewayV4} dev eth0`, `default via ${NODE.publicGatewayV6} dev eth0`],
      },
      pubsw: { label: 'public segment switch', bridges: ['br0'] },
      vpcsw: { label: 'VPC switch', bridges: ['br0'] },
      gwsw: { label: 'gateway uplink switch', bridges: ['br0'] },
      pubgw: {
        label: "the node's public gateway",
        addresses: { eth0: [`${NODE.publicGatewayV4}/24`, `${NODE.publicGatewayV6}/64`], uplink: ['100.64.0.2/30', '2001:db8:ff::2/64'], md: ['169.254.0.1/16'] },
        routes: ['default via 100.64.0.1', 'default via 2001:db8:ff::1'], forward: true,
      },
      inet: {
        label: 'the internet: destinations on loopback, echo service',
        addresses: { lo: [...inet.map((a) => `${a}/32`), `${DEST.serverV6}/128`], pubgw: ['100.64.0.1/30', '2001:db8:ff::1/64'], cp: ['198.18.0.1/24'], gws: ['198.51.100.9/24', '2001:db8:fe::1/64'] },
        routes: ['203.0.113.0/24 via 100.64.0.2', '2001:db8:1::/64 via 2001:db8:ff::2'], forward: true,
        services: props.echo ?? true ? [{ name: 'echo', echo: { addresses: [...inet, DEST.serverV6] } }] : [],
      },
      cp: { label: 'the control plane', addresses: { eth0: [`${CONTROL_PLANE_V4}/24`] }, routes: ['default via 198.18.0.1'] },
      'metadata-standin': { standIn: "DigitalOcean's metadata service (reachable only through the public gateway)", addresses: { eth0: [`${METADATA_V4}/16`] }, routes: ['default via 169.254.0.1'] },
      ...gateways,
    },
    links: [['pubgw:uplink', 'inet:pubgw'], ['pubgw:md', 'metadata-standin:eth0'], ['inet:cp', 'cp:eth0']],
    ports: {
      'pubsw:br0': ['node:eth0', 'pubgw:eth0'],
      'vpcsw:br0': ['node:eth1', ...ids.map((i) => `gw${i}:eth1`)],
      'gwsw:br0': ['inet:gws', ...ids.map((i) => `gw${i}:eth0`)],
    },
    resolvConf: [DEST.dnsV4],
  };
}

/** Tools the topology needs. */
export async function checkTopologyPrerequisites(): Promise<void> {
  await checkLabTools();
}

/** The old entry point over a built lab. */
export function topologyOf(built: Lab, gatewayCount: number): Topology {
  const gateways = Array.from({ length: gatewayCount }, (_, i): GatewayInfo => ({ ns: built.ns(`gw${i}`), ...gw(i) }));
  return {
    built, lab: built.netns, node: built.ns('node'), publicGateway: built.ns('pubgw'), gateways, internet: built.ns('inet'),
    controlPlane: built.ns('cp'), metadata: built.ns('metadata-standin'), resolvConf: built.resolvConf, dir: built.dir, processes: built.processes,
    counters: (i) => {
      if (!gateways[i]) throw new Error(`no gateway ${i}`);
      return built.counters(`gw${i}`);
    },
    resetCounters: () => built.resetCounters(),
    destroy: () => built.destroy(),
  };
}

/** Builds the topology. On failure, what was built is torn down before the error is thrown. */
export async function buildTopology(props: TopologyProps = {}): Promise<Topology> {
  return topologyOf(await buildLab(doNodeSpec(props)), props.gateways ?? 2);
}

/** Stops a gateway from forwarding while it still answers pings and ARP (a broken NAT box): `nft` drops, `sysctl` turns ip_forward off. */
export function stopForwarding(g: GatewayInfo, how: 'nft' | 'sysctl' = 'nft'): Promise<void> {
  return stop(g.ns, how);
}

/** Undoes `stopForwarding` (both ways). */
export function resumeForwarding(g: GatewayInfo): Promise<void> {
  return resume(g.ns);
}

/** Cuts (or restores) a gateway's VPC link, as a dead Droplet would look. */
export function setGatewayLink(g: GatewayInfo, up: boolean): Promise<void> {
  return setLink(g.ns, 'eth1', up);
}
