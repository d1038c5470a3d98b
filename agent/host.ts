/**
 * Host facts the planner needs: the node's own default routes (kroute's /1 halves are more specific and carry
 * protocol 145, so the original is always found, even after a restart mid-override), the public interface's
 * addresses and gateway, and the nameservers of resolv.conf.
 */
import { readFile } from 'node:fs/promises';
import type { IpFamily } from '../core/index.js';
import type { HostDefaultRoute, HostFacts, Ownership } from '../core/plan/index.js';
import { execProgram } from './exec.js';
import { parseRoutes, type KernelRoute } from './kernel/state.js';

/** Where and how to look. */
export interface HostDiscoveryProps {
  /** kroute's ownership: its own routes (its protocol) are never the node's default route. */
  readonly ownership: Ownership;
  readonly publicInterface: string;
  readonly resolvConf: string;
  readonly netns?: string;
}

interface AddrJson {
  readonly addr_info?: readonly { readonly family?: string; readonly local?: string; readonly scope?: string }[];
}

/** Nameservers listed in a resolv.conf text. */
export function parseResolvConf(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (m) out.push(m[1].replace(/%.*$/, ''));
  }
  return out;
}

/** The node's own default route of one family: lowest metric, never kroute's. */
export function originalDefault(routes: readonly KernelRoute[], protocol: number, dev?: string): HostDefaultRoute | undefined {
  const candidates = routes
    .filter((r) => r.table === 254 && r.dst.endsWith('/0') && r.protocol !== protocol && r.type === 1)
    .flatMap((r) => r.nexthops.filter((h) => h.dev && (dev === undefined || h.dev === dev)).map((h) => ({ metric: r.metric, hop: h })))
    .sort((a, b) => a.metric - b.metric);
  const best = candidates[0];
  if (!best?.hop.dev) return undefined;
  return best.hop.gateway ? { gateway: best.hop.gateway, dev: best.hop.dev } : { dev: best.hop.dev };
}

/**
 * Reads the host facts; `extra` supplies the control-plane and keep addresses. The facts are cached until
 * {@link invalidate} (the route monitor saw a route or address change; the periodic resync re-reads resolv.conf):
 * three `ip` processes on every pass were 13 ms of a 238 ms create-to-kernel (NOTES-agent-performance.md).
 */
export class HostDiscovery {
  private cached?: { readonly key: string; readonly facts: Promise<HostFacts> };
  /** Discoveries that ran (not served from the cache). */
  reads = 0;

  constructor(private readonly props: HostDiscoveryProps) {}

  /** Drops the cached facts: the next discover() reads the host again. */
  invalidate(): void {
    this.cached = undefined;
  }

  /** The host facts, from the cache when nothing changed since they were read. */
  discover(extra: { controlPlaneAddresses: readonly string[]; keepAddresses: readonly string[] }): Promise<HostFacts> {
    const key = JSON.stringify([extra.controlPlaneAddresses, extra.keepAddresses]);
    if (this.cached?.key === key) return this.cached.facts;
    const facts = this.read(extra);
    const entry = { key, facts };
    this.cached = entry;
    facts.catch(() => {
      if (this.cached === entry) this.cached = undefined;
    });
    return facts;
  }

  private async ipJson(args: string[]): Promise<string> {
    const r = await execProgram('ip', [...(this.props.netns ? ['-n', this.props.netns] : []), '-N', '-json', ...args]);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.error ?? r.stderr.trim()}`);
    return r.stdout;
  }

  private async read(extra: { controlPlaneAddresses: readonly string[]; keepAddresses: readonly string[] }): Promise<HostFacts> {
    this.reads++;
    const [r4, r6, addrs, dns] = await Promise.all([
      this.ipJson(['-4', 'route', 'show', 'table', 'main']),
      this.ipJson(['-6', 'route', 'show', 'table', 'main']),
      this.ipJson(['addr', 'show', 'dev', this.props.publicInterface]).catch(() => undefined),
      readFile(this.props.resolvConf, 'utf8').then(parseResolvConf, () => [] as string[]),
    ]);
    const v4 = parseRoutes(r4, 4);
    const v6 = parseRoutes(r6, 6);
    const p = this.props.ownership.protocol;
    const pub = this.props.publicInterface;
    const defaultV4 = originalDefault(v4, p);
    const defaultV6 = originalDefault(v6, p);
    let publicInterface: HostFacts['publicInterface'];
    if (addrs !== undefined) {
      const list = JSON.parse(addrs.trim() === '' ? '[]' : addrs) as AddrJson[];
      const addresses = list.flatMap((l) => l.addr_info ?? []).filter((a) => a.scope === 'global' || a.scope === '0').flatMap((a) => (a.local ? [a.local] : []));
      const gatewayV4 = originalDefault(v4, p, pub)?.gateway;
      const gatewayV6 = originalDefault(v6, p, pub)?.gateway;
      publicInterface = { name: pub, addresses, ...(gatewayV4 ? { gatewayV4 } : {}), ...(gatewayV6 ? { gatewayV6 } : {}) };
    }
    // Connected prefixes: kernel-made routes without a gateway (protocol 2), never kroute's.
    const connected = [...v4, ...v6]
      .filter((r) => r.protocol === 2 && r.nexthops.every((h) => !h.gateway) && !r.dst.endsWith('/0') && !r.dst.startsWith('fe80:'))
      .map((r) => r.dst);
    return {
      connected,
      ...(defaultV4 ? { defaultV4 } : {}),
      ...(defaultV6 ? { defaultV6 } : {}),
      ...(publicInterface ? { publicInterface } : {}),
      dnsServers: dns,
      controlPlaneAddresses: [...extra.controlPlaneAddresses],
      keepAddresses: [...extra.keepAddresses],
    };
  }
}

/** The family of an address text (4 when it has no colon). */
export function familyOf(text: string): IpFamily {
  return text.includes(':') ? 6 : 4;
}
