/**
 * A small DigitalOcean-shaped node for the image test, built from NetnsLab: the node namespace with eth0 (public
 * address, default route to an "internet" namespace) and eth1 (VPC), and two gateway namespaces on the VPC bridge.
 * Addresses are from documentation ranges; nothing leaves the namespaces.
 */
import { NetnsLab, netnsPath, type Netns } from '../net/netns.js';

/** The namespaces and addresses of the lab. */
export interface NodeLab {
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

/** Builds the node, its internet, the VPC bridge and two forwarding gateways. */
export async function startNodeLab(): Promise<NodeLab> {
  const lab = new NetnsLab();
  try {
    const node = await lab.add('node');
    const internet = await lab.add('inet');
    const vpc = await lab.add('vpc');
    await lab.link(node, 'eth0', internet, 'eth0');
    await node.ip('addr', 'add', '203.0.113.10/24', 'dev', 'eth0');
    await internet.ip('addr', 'add', '203.0.113.1/24', 'dev', 'eth0');
    await node.ip('route', 'add', 'default', 'via', '203.0.113.1', 'dev', 'eth0');
    await vpc.ip('link', 'add', 'br0', 'type', 'bridge');
    await vpc.ip('link', 'set', 'br0', 'up');
    await lab.link(node, 'eth1', vpc, 'p-node');
    await vpc.ip('link', 'set', 'p-node', 'master', 'br0');
    await node.ip('addr', 'add', '10.114.0.2/20', 'dev', 'eth1');
    const gateways: { ns: Netns; address: string }[] = [];
    for (const [i, address] of GATEWAY_ADDRESSES.entries()) {
      const ns = await lab.add(`gw${i + 1}`);
      await lab.link(ns, 'eth1', vpc, `p-gw${i + 1}`);
      await vpc.ip('link', 'set', `p-gw${i + 1}`, 'master', 'br0');
      await ns.ip('addr', 'add', `${address}/20`, 'dev', 'eth1');
      await ns.sysctl('net.ipv4.ip_forward', '1');
      gateways.push({ ns, address });
    }
    return {
      lab, node, nodePath: netnsPath(node), internet, gateways,
      publicAddress: '203.0.113.10', publicGateway: '203.0.113.1',
    };
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
}
