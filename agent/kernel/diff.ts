/**
 * What must change in the kernel to reach a plan: only the difference, and never a route kroute does not own. Pure;
 * the iproute2 adapter renders the operations as `ip -batch` lines.
 */
import type { DesiredRoute, DesiredRule, NextHop } from '../../core/plan/index.js';
import type { IpFamily } from '../../core/index.js';
import { sortHops, type KernelRoute, type KernelRule, type KernelState } from './state.js';

/** One change to the kernel. */
export type KernelOp =
  | { readonly kind: 'replace-route'; readonly route: DesiredRoute }
  | { readonly kind: 'delete-route'; readonly route: KernelRoute }
  | { readonly kind: 'add-rule'; readonly rule: DesiredRule }
  | { readonly kind: 'delete-rule'; readonly rule: KernelRule };

/** The desired part of a plan the kernel port takes. */
export interface DesiredKernel {
  readonly routes: readonly DesiredRoute[];
  readonly rules: readonly DesiredRule[];
}

/** A desired route that a route kroute does not own already occupies; kroute leaves it alone. */
export interface ForeignConflict {
  readonly route: DesiredRoute;
  readonly foreign: KernelRoute;
}

/** The difference between the kernel and the plan. */
export interface KernelDiff {
  /** Ordered: keep-routes first, then routes, rules, and deletions broadest prefix first. */
  readonly ops: readonly KernelOp[];
  readonly conflicts: readonly ForeignConflict[];
  /** Desired routes already in place (adopted as they are). */
  readonly unchanged: number;
}

/** The metric the kernel gives a route added without one: 0 for IPv4, 1024 for IPv6. */
export function defaultMetric(family: IpFamily): number {
  return family === 4 ? 0 : 1024;
}

/** The key the kernel tells routes apart by (family, table, destination, metric). */
export const routeKey = (family: IpFamily, table: number, dst: string, metric: number): string => `${family} ${table} ${dst} ${metric}`;
const ruleKey = (r: { family: IpFamily; priority: number; src: string; table: number; fwmark?: number }) => `${r.family} ${r.priority} ${r.src} ${r.table} ${r.fwmark ?? '-'}`;

/** True when two next hops are the same (dev only where `want` asks for one). */
function sameHop(want: NextHop, have: NextHop): boolean {
  return (want.gateway ?? '') === (have.gateway ?? '') && (want.dev === undefined || want.dev === have.dev);
}

/** True when the kernel route already is what `want` asks for (next hops as a set; dev only where asked). */
export function routeMatches(want: DesiredRoute, have: KernelRoute): boolean {
  if (have.type !== 1 || have.protocol !== want.protocol) return false;
  const a = want.nexthops;
  const b = have.nexthops;
  if (a.length !== b.length) return false;
  // Most routes have one or two hops: compare as sets without sorting (a diff of 10,000 routes sorted 10,000 lists).
  if (a.length === 1) return sameHop(a[0], b[0]);
  if (a.length === 2) return (sameHop(a[0], b[0]) && sameHop(a[1], b[1])) || (sameHop(a[0], b[1]) && sameHop(a[1], b[0]));
  const s = sortHops(a);
  return s.every((h, i) => sameHop(h, b[i]));
}

/**
 * The kernel state indexed the way the diff looks things up: kroute's routes by key, other routes by key. The
 * kernel adapter keeps its view in this shape between passes, so a diff costs a lookup per desired route.
 */
export interface KernelIndex {
  /** kroute's routes (of the diff's protocol) by {@link routeKey}. */
  readonly owned: ReadonlyMap<string, KernelRoute>;
  /** kroute's routes that share a key with one in `owned` (a kernel read can show two): always pruned. */
  readonly duplicates: readonly KernelRoute[];
  /** Everybody else's routes by {@link routeKey}. */
  readonly foreign: ReadonlyMap<string, KernelRoute>;
  readonly ownedRules: readonly KernelRule[];
}

/** Indexes a kernel state for {@link diffIndexed}, keeping only kroute's routes and rules (`protocol`) as owned. */
export function indexKernel(state: KernelState, protocol: number): KernelIndex {
  const owned = new Map<string, KernelRoute>();
  const duplicates: KernelRoute[] = [];
  for (const r of state.owned) {
    if (r.protocol !== protocol) continue;
    const k = routeKey(r.family, r.table, r.dst, r.metric);
    if (owned.has(k)) duplicates.push(r);
    else owned.set(k, r);
  }
  const foreign = new Map<string, KernelRoute>();
  for (const r of state.foreign) {
    if (r.protocol !== protocol) foreign.set(routeKey(r.family, r.table, r.dst, r.metric), r);
  }
  return { owned, duplicates, foreign, ownedRules: state.ownedRules.filter((r) => r.protocol === protocol) };
}

/** Computes the operations that take `state` to `desired`, touching only routes and rules with `protocol`. */
export function diffKernel(state: KernelState, desired: DesiredKernel, protocol: number): KernelDiff {
  return diffIndexed(indexKernel(state, protocol), desired);
}

/** {@link diffKernel} over an indexed state (whose owned routes and rules are all kroute's). */
export function diffIndexed(state: KernelIndex, desired: DesiredKernel): KernelDiff {
  const { owned, foreign } = state;
  const orphans: KernelRoute[] = [...state.duplicates];
  const replaces: KernelOp[] = [];
  const keeps: KernelOp[] = [];
  const conflicts: ForeignConflict[] = [];
  const wanted = new Set<string>();
  let unchanged = 0;
  for (const route of desired.routes) {
    const k = routeKey(route.family, route.table, route.dst, defaultMetric(route.family));
    wanted.add(k);
    const f = foreign.get(k);
    if (f) {
      conflicts.push({ route, foreign: f });
      continue;
    }
    const have = owned.get(k);
    if (have && routeMatches(route, have)) unchanged++;
    else (route.purpose === 'keep' ? keeps : replaces).push({ kind: 'replace-route', route });
  }
  for (const [k, r] of owned) if (!wanted.has(k)) orphans.push(r);
  // Broadest first: an override's /1 halves go before the /32 keep-routes that protect the API server and DNS.
  const prefixLength = (r: KernelRoute) => Number(r.dst.slice(r.dst.indexOf('/') + 1));
  orphans.sort((a, b) => prefixLength(a) - prefixLength(b) || a.table - b.table);
  const deletes: KernelOp[] = orphans.map((route) => ({ kind: 'delete-route', route }));

  const haveRules = new Map<string, KernelRule[]>();
  for (const r of state.ownedRules) {
    const list = haveRules.get(ruleKey(r)) ?? [];
    list.push(r);
    haveRules.set(ruleKey(r), list);
  }
  const ruleOps: KernelOp[] = [];
  const wantRules = new Set<string>();
  for (const rule of desired.rules) {
    const k = ruleKey(rule);
    if (wantRules.has(k)) continue;
    wantRules.add(k);
    const have = haveRules.get(k);
    if (have && have.length > 0) {
      unchanged++;
      // ip rule add twice makes two rules: drop the extras.
      for (const extra of have.slice(1)) ruleOps.push({ kind: 'delete-rule', rule: extra });
    } else ruleOps.push({ kind: 'add-rule', rule });
  }
  for (const [k, list] of haveRules) if (!wantRules.has(k)) for (const rule of list) ruleOps.push({ kind: 'delete-rule', rule });

  // Keep-routes first (a stable partition, as the sort by purpose was).
  return { ops: [...keeps, ...replaces, ...ruleOps, ...deletes], conflicts, unchanged };
}
