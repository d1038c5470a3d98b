/**
 * What must change in the kernel to reach a plan: only the difference, and never a route kroute does not own. Pure;
 * the iproute2 adapter renders the operations as `ip -batch` lines.
 */
import type { DesiredRoute, DesiredRule } from '../../core/plan/index.js';
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

const routeKey = (family: IpFamily, table: number, dst: string, metric: number) => `${family} ${table} ${dst} ${metric}`;
const ruleKey = (r: { family: IpFamily; priority: number; src: string; table: number; fwmark?: number }) => `${r.family} ${r.priority} ${r.src} ${r.table} ${r.fwmark ?? '-'}`;

/** True when the kernel route already is what `want` asks for (next hops as a set; dev only where asked). */
export function routeMatches(want: DesiredRoute, have: KernelRoute): boolean {
  if (have.type !== 1 || have.protocol !== want.protocol) return false;
  const a = sortHops(want.nexthops);
  const b = have.nexthops;
  if (a.length !== b.length) return false;
  return a.every((h, i) => (h.gateway ?? '') === (b[i].gateway ?? '') && (h.dev === undefined || h.dev === b[i].dev));
}

/** Computes the operations that take `state` to `desired`, touching only routes and rules with `protocol`. */
export function diffKernel(state: KernelState, desired: DesiredKernel, protocol: number): KernelDiff {
  const owned = new Map<string, KernelRoute>();
  const orphans: KernelRoute[] = [];
  for (const r of state.owned) {
    if (r.protocol !== protocol) continue;
    const k = routeKey(r.family, r.table, r.dst, r.metric);
    if (owned.has(k)) orphans.push(r);
    else owned.set(k, r);
  }
  const foreign = new Map<string, KernelRoute>();
  for (const r of state.foreign) {
    if (r.protocol !== protocol) foreign.set(routeKey(r.family, r.table, r.dst, r.metric), r);
  }
  const replaces: KernelOp[] = [];
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
    else replaces.push({ kind: 'replace-route', route });
  }
  for (const [k, r] of owned) if (!wanted.has(k)) orphans.push(r);
  // Broadest first: an override's /1 halves go before the /32 keep-routes that protect the API server and DNS.
  orphans.sort((a, b) => a.dst.split('/').map(Number)[1] - b.dst.split('/').map(Number)[1] || a.table - b.table);
  const deletes: KernelOp[] = orphans.map((route) => ({ kind: 'delete-route', route }));

  const haveRules = new Map<string, KernelRule[]>();
  for (const r of state.ownedRules) {
    if (r.protocol !== protocol) continue;
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

  const keepFirst = (op: KernelOp) => (op.kind === 'replace-route' && op.route.purpose === 'keep' ? 0 : 1);
  return { ops: [...replaces.sort((a, b) => keepFirst(a) - keepFirst(b)), ...ruleOps, ...deletes], conflicts, unchanged };
}
