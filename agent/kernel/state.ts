/**
 * The kernel's routes and rules as kroute reads them (`ip -N -json`), normalised so they compare with the plan:
 * canonical prefixes, numeric tables and protocols, next hops sorted.
 */
import { parseCidr, parseIp, type IpFamily } from '../../core/index.js';
import type { NextHop } from '../../core/plan/index.js';

/** A route in the kernel. */
export interface KernelRoute {
  readonly family: IpFamily;
  readonly dst: string;
  readonly table: number;
  readonly protocol: number;
  readonly metric: number;
  /** Route type number (1 unicast). */
  readonly type: number;
  readonly nexthops: readonly NextHop[];
}

/** An ip rule in the kernel. */
export interface KernelRule {
  readonly family: IpFamily;
  readonly priority: number;
  /** Source prefix, `all` when none. */
  readonly src: string;
  readonly table: number;
  readonly protocol: number;
  /** Firewall mark matched, when the rule has one. */
  readonly fwmark?: number;
}

/** The routes and rules read at one moment: kroute's own (by protocol) and everybody else's. */
export interface KernelState {
  readonly owned: readonly KernelRoute[];
  readonly foreign: readonly KernelRoute[];
  readonly ownedRules: readonly KernelRule[];
}

interface RouteJson {
  readonly dst?: string;
  readonly type?: string;
  readonly table?: string;
  readonly protocol?: string;
  readonly metric?: number;
  readonly gateway?: string;
  readonly via?: { readonly host?: string };
  readonly dev?: string;
  readonly nexthops?: readonly { readonly gateway?: string; readonly via?: { readonly host?: string }; readonly dev?: string }[];
}

interface RuleJson {
  readonly priority?: number;
  readonly src?: string;
  readonly srclen?: number;
  readonly table?: string;
  readonly protocol?: string;
  readonly fwmark?: string;
}

const TABLE_NAMES: Record<string, number> = { main: 254, local: 255, default: 253, unspec: 0 };
/** RTPROT_BOOT: iproute2 omits the protocol field for it. */
const RTPROT_BOOT = 3;

function num(v: string | undefined, names: Record<string, number>, absent: number): number {
  if (v === undefined) return absent;
  if (/^\d+$/.test(v)) return Number(v);
  return names[v] ?? -1;
}

/**
 * IPv4 as iproute2 prints it (inet_ntop: dotted quad, no leading zeros; a prefix with host bits cleared, as the
 * kernel keeps it) is already canonical. Skipping the parser for it matters: a read of 10,000 routes parsed every
 * destination and gateway again, ~60 ms of the read.
 */
const KERNEL_V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** Canonical prefix text for `ip`'s `dst` (`default`, a bare address, or a CIDR). */
export function canonicalDst(dst: string, family: IpFamily): string {
  if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
  if (family === 4 && !dst.includes('/') && KERNEL_V4.test(dst)) return `${dst}/32`;
  const text = dst.includes('/') ? dst : `${dst}/${family === 4 ? 32 : 128}`;
  const c = parseCidr(text);
  return c.ok ? c.value.text : text;
}

function canonicalIp(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  if (KERNEL_V4.test(text)) return text;
  const ip = parseIp(text);
  return ip.ok ? ip.value.text : text;
}

/** Sorts next hops so that two sets compare as equal whatever order the kernel lists them in. */
export function sortHops(hops: readonly NextHop[]): NextHop[] {
  // Called for every route of every read and diff (10,000s): no sort, and no key strings, for one hop.
  if (hops.length < 2) return [...hops];
  const keyed = hops.map((h) => ({ h, k: `${h.gateway ?? ''} ${h.dev ?? ''}` }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  return keyed.map((x) => x.h);
}

function hop(gateway: string | undefined, dev: string | undefined): NextHop {
  const g = canonicalIp(gateway);
  if (g && dev) return { gateway: g, dev };
  if (g) return { gateway: g };
  return dev ? { dev } : {};
}

/** Parses `ip -N -json -4|-6 route show ...` output. */
export function parseRoutes(json: string, family: IpFamily): KernelRoute[] {
  const list = JSON.parse(json.trim() === '' ? '[]' : json) as RouteJson[];
  return list
    .filter((r) => r.dst !== undefined)
    .map((r) => ({
      family,
      dst: canonicalDst(r.dst ?? '', family),
      table: num(r.table, TABLE_NAMES, 254),
      protocol: num(r.protocol, {}, RTPROT_BOOT),
      metric: r.metric ?? 0,
      type: num(r.type, { unicast: 1 }, 1),
      nexthops: sortHops(
        r.nexthops
          ? r.nexthops.map((h) => hop(h.gateway ?? h.via?.host, h.dev))
          : [hop(r.gateway ?? r.via?.host, r.dev)],
      ),
    }));
}

/** Parses `ip -N -json -4|-6 rule show` output. */
export function parseRules(json: string, family: IpFamily): KernelRule[] {
  const list = JSON.parse(json.trim() === '' ? '[]' : json) as RuleJson[];
  return list.map((r) => {
    const src = r.src === undefined || r.src === 'all' ? 'all' : canonicalDst(r.srclen !== undefined ? `${r.src}/${r.srclen}` : r.src, family);
    return {
      family,
      priority: r.priority ?? 0,
      src,
      table: num(r.table, TABLE_NAMES, 254),
      protocol: num(r.protocol, {}, 0),
      ...(r.fwmark !== undefined ? { fwmark: Number(r.fwmark) } : {}),
    };
  });
}
