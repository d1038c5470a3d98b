/**
 * A small DigitalOcean-shaped node for the image test, as a lab spec (test/lab/): the node namespace with eth0
 * (public address, default route to an "internet" namespace) and eth1 (VPC), and two forwarding gateway namespaces
 * on the VPC bridge. Addresses are from documentation ranges; nothing leaves the namespaces.
 */
import { buildLab, type Lab } from '../lab/lab.js';
import { netnsPath, type Netns, type NetnsLab } from '../lab/netns.js';
import type { LabSpec } from '../lab/spec.js';

/** The namespaces and addresses of the lab. */
export interface NodeLab {
  /** The lab it is built on; `built.destroy()` removes it. */
  readonly built: Lab;
  readonly lab: NetnsLab;
  readonly node: Netns;
  readonly nodePath: string;
  readonly internet: Netns;
  readonly gateways: readonly { readonly ns: Netns; readonly address: string }[];
  /** The node's public address on eth0, and eth0's gateway. */
  readonly publicAddress: string;
  readonly publicGateway: string;
}

/** VPC addresses (DigitalOcean's default VPC range) of the two gateways. */
export const GATEWAY_ADDRESSES = ['10.114.0.10', '10.114.0.11'] as const;
const PUBLIC = { address: '203.0.113.10', gateway: '203.0.113.1' };

/** The lab as data. */
export const NODE_LAB: LabSpec = {
  name: 'a node with eth0 (public) and eth1 (VPC), two gateways',
  namespaces: {
    node: { addresses: { eth0: [`${PUBLIC.address}/24`], eth1: ['10.114.0.2/20'] }, routes: [`default via ${PUBLIC.gateway} dev eth0`] },
    inet: { addresses: { eth0: [`${PUBLIC.gateway}/24`] } },
    vpc: { label: 'VPC switch', bridges: ['br0'] },
    ...Object.fromEntries(GATEWAY_ADDRESSES.map((a, i) => [`gw${i + 1}`, { addresses: { eth1: [`${a}/20`] }, sysctls: { 'net.ipv4.ip_forward': '1' } }])),
  },
  links: [['node:eth0', 'inet:eth0']],
  ports: { 'vpc:br0': ['node:eth1', ...GATEWAY_ADDRESSES.map((_, i) => `gw${i + 1}:eth1`)] },
};

/** Builds the node, its internet, the VPC bridge and two forwarding gateways. */
export async function startNodeLab(): Promise<NodeLab> {
  const built = await buildLab(NODE_LAB);
  const node = built.ns('node');
  return {
    built, lab: built.netns, node, nodePath: netnsPath(node), internet: built.ns('inet'),
    gateways: GATEWAY_ADDRESSES.map((address, i) => ({ ns: built.ns(`gw${i + 1}`), address })),
    publicAddress: PUBLIC.address, publicGateway: PUBLIC.gateway,
  };
}
