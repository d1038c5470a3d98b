/**
 * The node's lifelines, decided once: which addresses a Route may never take away from the node, and what happens
 * to a destination that would (docs/safety.md has the table). Pure: host facts in, verdicts out.
 *
 * - Protected addresses: the control-plane endpoints, the metadata service, the DNS servers, the node's own
 *   default gateways and the gateways of the Routes it applies.
 * - Protected subnets: the node's directly connected networks (its neighbours, the gateways among them).
 *
 * A destination inside (or equal to) a connected subnet is refused: longest match would send the node's own
 * neighbours to a gateway. A destination that is exactly a protected address (its /32 or /128) is refused: all it
 * could do is take that address away. A wider destination containing protected addresses is applied, and each of
 * them gets a /32 (/128) keep-route on the node's own path, which no Route can hold, so it always wins.
 */
import { cidrContains, cidrInside, isLoopback, isUnspecified, METADATA_ADDRESS, parseCidr, parseIp, type Cidr, type IpAddress, type IpFamily } from '../ip.js';
import type { HostFacts } from './types.js';

/** An address the node must keep reaching on its own path, and why. */
export interface ProtectedAddress {
  readonly address: IpAddress;
  /** Why it is protected, as status messages say it ("control-plane endpoint", "DNS server", ...). */
  readonly why: string;
  /**
   * True when a /32 (/128) keep-route on the node's own default path holds it. Gateways are protected but never
   * kept that way: they are on-link (a gateway off every connected subnet is refused), so the connected-subnet
   * rule protects them, and a Route for exactly a gateway's /32 is refused.
   */
  readonly keep: boolean;
}

/** A connected subnet the node reaches on-link. */
export interface ConnectedSubnet {
  readonly cidr: Cidr;
}

/** The node's protected addresses and subnets. */
export interface Lifelines {
  readonly addresses: readonly ProtectedAddress[];
  /** Undefined when the host facts did not say (then gateways are not checked for being on-link). */
  readonly connected?: readonly ConnectedSubnet[];
}

/** Which rule refused a destination (the `reason` label of kroute_destinations_refused). */
export type RefusalKind = 'connected_subnet' | 'protected_address';

/** What happens to one destination of a Route on this node. */
export type DestinationVerdict =
  | { readonly refused: true; readonly reason: string; readonly kind: RefusalKind }
  | { readonly refused: false; readonly protectedInside: readonly ProtectedAddress[] };

function add(out: Map<string, ProtectedAddress>, text: string | IpAddress | undefined, why: string, keep = true): void {
  if (!text) return;
  // Already parsed (a validated Route's gateways): parsing them again was most of a plan at 1,000 Routes.
  if (typeof text !== 'string' && out.has(text.text)) return;
  const ip = typeof text === 'string' ? parseIp(text) : { ok: true as const, value: text };
  if (!ip.ok || isLoopback(ip.value) || isUnspecified(ip.value)) return;
  if (!out.has(ip.value.text)) out.set(ip.value.text, { address: ip.value, why, keep });
}

/**
 * The node's lifelines from the host facts and the gateways of the Routes it applies (name → gateways, as text or
 * already parsed).
 */
export function lifelines(host: HostFacts, routeGateways: ReadonlyMap<string, readonly (string | IpAddress)[]>): Lifelines {
  const out = new Map<string, ProtectedAddress>();
  for (const a of host.controlPlaneAddresses) add(out, a, 'a control-plane endpoint (API server)');
  for (const a of host.keepAddresses) add(out, a, a === METADATA_ADDRESS ? 'the metadata service' : 'a kept address (--keep-addresses)');
  for (const a of host.dnsServers) add(out, a, 'a DNS server of the node (resolv.conf)');
  add(out, host.defaultV4?.gateway, "the node's own default gateway", false);
  add(out, host.defaultV6?.gateway, "the node's own default gateway", false);
  add(out, host.publicInterface?.gatewayV4, "the node's own default gateway", false);
  add(out, host.publicInterface?.gatewayV6, "the node's own default gateway", false);
  for (const [name, gws] of [...routeGateways].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    for (const g of gws) if (typeof g === 'string' || !out.has(g.text)) add(out, g, `a gateway this node uses (Route ${name})`, false);
  }
  const connected = host.connected
    ?.map((c) => parseCidr(c))
    .flatMap((c) => (c.ok ? [{ cidr: c.value }] : []));
  return { addresses: [...out.values()], ...(connected ? { connected } : {}) };
}

function list(ps: readonly ProtectedAddress[]): string {
  return ps.map((p) => `${p.address.text} (${p.why})`).join(', ');
}

/** True when `ip` is on one of the node's connected subnets (it never used a gateway). */
export function onLink(l: Lifelines, ip: IpAddress): boolean {
  return (l.connected ?? []).some((c) => cidrContains(c.cidr, ip));
}

/** The verdict on one destination of a Route (see the file comment). */
export function destinationVerdict(l: Lifelines, d: Cidr): DestinationVerdict {
  const inside = l.addresses.filter((p) => cidrContains(d, p.address));
  const subnet = (l.connected ?? []).find((c) => cidrInside(d, c.cidr));
  if (subnet) {
    const among = inside.length ? `, among them ${list(inside)}` : '';
    return {
      refused: true,
      kind: 'connected_subnet',
      reason: `${d.text} is inside the node's directly connected subnet ${subnet.cidr.text}: routing it through a gateway would cut the node off its neighbours there${among}`,
    };
  }
  const host = d.prefixLength === (d.family === 4 ? 32 : 128);
  if (host && inside.length) {
    return { refused: true, kind: 'protected_address', reason: `${d.text} is ${inside[0].why}: it stays on the node's own path` };
  }
  return { refused: false, protectedInside: inside.filter((p) => p.keep && !onLink(l, p.address)) };
}

/** Why a gateway cannot be a next hop on this node, or undefined when it can (it is on a connected subnet). */
export function gatewayProblem(l: Lifelines, gateway: IpAddress): string | undefined {
  if (l.connected === undefined) return undefined;
  if (onLink(l, gateway)) return undefined;
  const fam: IpFamily = gateway.family;
  const nets = l.connected.filter((c) => c.cidr.family === fam).map((c) => c.cidr.text);
  return `gateway ${gateway.text} is not on a network this node is connected to (${nets.length ? nets.join(', ') : `no IPv${fam} network`}): the kernel cannot use it as a next hop`;
}
