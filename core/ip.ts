/**
 * Address parsing. An address is valid because a parser accepted it, never because a regex matched
 * (cdk8s-plus's regex check lets `999.0.0.0/8` through). The rules follow Kubernetes' CEL `isIP`/`isCIDR`
 * (Go's net/netip): dotted-quad IPv4 without leading zeros, IPv6 without zone, no IPv4-mapped IPv6.
 */
import ipaddr from 'ipaddr.js';

/** 4 for IPv4, 6 for IPv6. */
export type IpFamily = 4 | 6;

/** A parsed address in canonical text form. */
export interface IpAddress {
  readonly family: IpFamily;
  /** Canonical text: dotted quad, or RFC 5952 for IPv6. */
  readonly text: string;
  readonly bytes: readonly number[];
}

/** A parsed prefix, normalised: host bits cleared. */
export interface Cidr {
  readonly family: IpFamily;
  readonly address: IpAddress;
  readonly prefixLength: number;
  /** Canonical text, e.g. `0.0.0.0/5` for the input `1.2.3.4/5`. */
  readonly text: string;
  /** True when the input had host bits set and was normalised. */
  readonly hadHostBits: boolean;
}

/** Why a text is not an address, or the parsed address. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

const DOTTED_QUAD = /^(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;

/** Parses an IPv4 or IPv6 address strictly. */
export function parseIp(text: string): Parsed<IpAddress> {
  if (typeof text !== 'string' || text.length === 0) return { ok: false, reason: 'is not an IPv4 or IPv6 address' };
  if (text.includes('%')) return { ok: false, reason: 'is not an IPv4 or IPv6 address (zones are not allowed)' };
  if (text.includes('.') && !text.includes(':')) {
    const m = DOTTED_QUAD.exec(text);
    if (!m || m.slice(1).some((o) => Number(o) > 255)) return { ok: false, reason: 'is not an IPv4 or IPv6 address' };
    const bytes = m.slice(1).map(Number);
    return { ok: true, value: { family: 4, text: bytes.join('.'), bytes } };
  }
  if (!text.includes(':') || !ipaddr.IPv6.isValid(text)) return { ok: false, reason: 'is not an IPv4 or IPv6 address' };
  const v6 = ipaddr.IPv6.parse(text);
  if (v6.isIPv4MappedAddress()) {
    return { ok: false, reason: 'is an IPv4-mapped IPv6 address; write the IPv4 address instead' };
  }
  return { ok: true, value: { family: 6, text: v6.toRFC5952String(), bytes: v6.toByteArray() } };
}

function bytesToText(family: IpFamily, bytes: readonly number[]): string {
  return family === 4 ? bytes.join('.') : new ipaddr.IPv6([...bytes]).toRFC5952String();
}

/** Parses a CIDR such as `10.0.0.0/8` or `2001:db8::/32`; host bits are accepted and cleared. */
export function parseCidr(text: string): Parsed<Cidr> {
  if (typeof text !== 'string') return { ok: false, reason: 'is not a CIDR' };
  const slash = text.indexOf('/');
  if (slash < 0) return { ok: false, reason: 'is not a CIDR: it needs a prefix length, e.g. "10.0.0.0/8"' };
  const ip = parseIp(text.slice(0, slash));
  if (!ip.ok) return { ok: false, reason: 'is not a CIDR: the address part ' + ip.reason };
  const lenText = text.slice(slash + 1);
  const max = ip.value.family === 4 ? 32 : 128;
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > max) {
    return { ok: false, reason: `is not a CIDR: the prefix length must be 0 to ${max}` };
  }
  const prefixLength = Number(lenText);
  const bytes = ip.value.bytes.map((b, i) => {
    const bitsHere = Math.max(0, Math.min(8, prefixLength - i * 8));
    return b & ((0xff << (8 - bitsHere)) & 0xff);
  });
  const hadHostBits = bytes.some((b, i) => b !== ip.value.bytes[i]);
  const address: IpAddress = { family: ip.value.family, bytes, text: bytesToText(ip.value.family, bytes) };
  return { ok: true, value: { family: ip.value.family, address, prefixLength, hadHostBits, text: `${address.text}/${prefixLength}` } };
}

/** True when the prefix is a default route (`0.0.0.0/0` or `::/0`). */
export function isDefaultRoute(c: Cidr): boolean {
  return c.prefixLength === 0;
}

/** True when `c` contains the address `ip` (same family). */
export function cidrContains(c: Cidr, ip: IpAddress): boolean {
  if (c.family !== ip.family) return false;
  for (let bit = 0; bit < c.prefixLength; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((c.address.bytes[byte] & mask) !== (ip.bytes[byte] & mask)) return false;
  }
  return true;
}

/** True when two prefixes share any address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  return a.prefixLength <= b.prefixLength ? cidrContains(a, b.address) : cidrContains(b, a.address);
}

/** True for `0.0.0.0` and `::`. */
export function isUnspecified(ip: IpAddress): boolean {
  return ip.bytes.every((b) => b === 0);
}

/** True for 127.0.0.0/8 and ::1. */
export function isLoopback(ip: IpAddress): boolean {
  return ip.family === 4 ? ip.bytes[0] === 127 : ip.bytes.slice(0, 15).every((b) => b === 0) && ip.bytes[15] === 1;
}

/** The first and last address of a prefix, as integers. */
export function cidrRange(c: Cidr): readonly [bigint, bigint] {
  const bits = c.family === 4 ? 32 : 128;
  let start = 0n;
  for (const b of c.address.bytes) start = (start << 8n) | BigInt(b);
  const host = BigInt(bits - c.prefixLength);
  return [start, start + (1n << host) - 1n];
}

/**
 * True when the prefixes together cover their family's whole address space (`0.0.0.0/0`, or the `/1` pair, or four
 * `/2` quarters, ...): such a set takes over the default route whether or not it lists `/0` itself.
 */
export function coversWholeFamily(cidrs: readonly Cidr[], family: IpFamily): boolean {
  const ranges = cidrs.filter((c) => c.family === family).map(cidrRange).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const last = (1n << BigInt(family === 4 ? 32 : 128)) - 1n;
  let next = 0n;
  for (const [s, e] of ranges) {
    if (s > next) return false;
    if (e + 1n > next) next = e + 1n;
    if (next > last) return true;
  }
  return false;
}

/** True when prefix `inner` lies entirely inside prefix `outer` (same family; equal counts). */
export function cidrInside(inner: Cidr, outer: Cidr): boolean {
  return inner.family === outer.family && inner.prefixLength >= outer.prefixLength && cidrContains(outer, inner.address);
}

/** The metadata service's address (DigitalOcean, AWS, GCP, Azure, ...). */
export const METADATA_ADDRESS = '169.254.169.254';

/**
 * Ranges that can never carry unicast through a gateway, with why. A destination entirely inside one is refused
 * everywhere (validator and CRD); see docs/safety.md. The metadata service's /32 is link-local but has its own rule
 * (it is a protected address, decided per node by the planner), so it is not listed here.
 */
export const NEVER_ROUTED: readonly { readonly cidr: string; readonly what: string }[] = [
  { cidr: '0.0.0.0/8', what: '"this network" (0.0.0.0/8): never a destination on the wire' },
  { cidr: '127.0.0.0/8', what: 'loopback (127.0.0.0/8): it never leaves the node' },
  { cidr: '169.254.0.0/16', what: 'link-local (169.254.0.0/16): it is never forwarded by a gateway' },
  { cidr: '224.0.0.0/4', what: 'multicast (224.0.0.0/4): a gateway route cannot carry it' },
  { cidr: '255.255.255.255/32', what: 'the limited broadcast address: it never leaves the segment' },
  { cidr: '::/128', what: 'the unspecified address (::): never a destination' },
  { cidr: '::1/128', what: 'loopback (::1): it never leaves the node' },
  { cidr: 'fe80::/10', what: 'link-local (fe80::/10): it is never forwarded by a gateway' },
  { cidr: 'ff00::/8', what: 'multicast (ff00::/8): a gateway route cannot carry it' },
];

/** Why a destination can never be routed through a gateway, or undefined when it can. */
export function neverRoutedReason(c: Cidr): string | undefined {
  if (c.family === 4 && c.prefixLength === 32 && c.address.text === METADATA_ADDRESS) return undefined;
  // Parsed once: parsing these nine prefixes again for every destination was most of validating a Route.
  neverRouted ??= NEVER_ROUTED.flatMap((r) => {
    const outer = parseCidr(r.cidr);
    return outer.ok ? [{ cidr: outer.value, what: r.what }] : [];
  });
  for (const r of neverRouted) if (cidrInside(c, r.cidr)) return r.what;
  return undefined;
}
let neverRouted: { readonly cidr: Cidr; readonly what: string }[] | undefined;

/** True for multicast addresses (224.0.0.0/4, ff00::/8) and the IPv4 limited broadcast. */
export function isMulticastOrBroadcast(ip: IpAddress): boolean {
  if (ip.family === 4) return (ip.bytes[0] & 0xf0) === 224 || ip.bytes.every((b) => b === 255);
  return ip.bytes[0] === 0xff;
}
