/** What the image test reads from the node namespace: routes, the symmetric table and rule, sysctls. */
import { must, type Netns } from '../net/netns.js';

interface RouteJson {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly protocol?: string;
  readonly nexthops?: readonly { readonly gateway?: string; readonly dev?: string }[];
}
interface RuleJson {
  readonly priority: number;
  readonly table?: string;
  readonly src?: string;
  readonly iif?: string;
  readonly fwmark?: string;
}

/** The gateways of the route to `dst` in any table (sorted), or undefined when there is none. */
export async function gatewaysOf(node: Netns, dst: string): Promise<string[] | undefined> {
  const routes = await node.ipJson<RouteJson[]>('route', 'show', 'table', 'all', 'exact', dst);
  const r = routes.find((x) => x.dst === dst);
  if (r === undefined) return undefined;
  const hops = r.nexthops ? r.nexthops.map((h) => h.gateway ?? '') : r.gateway ? [r.gateway] : [];
  return hops.sort();
}

/** The default route of table `table` as `via GW dev DEV`, or undefined. */
export async function tableDefault(node: Netns, table: number): Promise<string | undefined> {
  const routes = await node.ipJson<RouteJson[]>('route', 'show', 'table', String(table));
  const r = routes.find((x) => x.dst === 'default');
  return r ? `via ${r.gateway ?? '?'} dev ${r.dev ?? '?'}` : undefined;
}

/** The rule at `priority`, as `ip rule` shows it, or undefined. */
export async function ruleAt(node: Netns, priority: number): Promise<RuleJson | undefined> {
  const rules = await node.ipJson<RuleJson[]>('rule', 'show');
  return rules.find((r) => r.priority === priority);
}

/** `sysctl -a` of the net.ipv4 and net.ipv6 trees, in a namespace or (no namespace) in the machine's own. */
export async function netSysctls(ns?: Netns): Promise<Map<string, string>> {
  const args = ['-a', '-r', '^net\\.ipv[46]\\.'];
  const out = ns ? await ns.must('sysctl', args) : await must('sysctl', args);
  const map = new Map<string, string>();
  for (const line of out.split('\n')) {
    const eq = line.indexOf(' = ');
    if (eq > 0) map.set(line.slice(0, eq), line.slice(eq + 3));
  }
  return map;
}

/** Keys whose value differs between two snapshots. */
export function changedKeys(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after.keys()].filter((k) => before.get(k) !== after.get(k)).sort();
}
