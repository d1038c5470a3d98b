/**
 * The kernel port over iproute2. Reads with `ip -N -json -batch` (numeric tables and protocols, whatever rt_tables
 * names say; one process per family), only when its cached view of the kernel was dropped; writes through a
 * long-lived `ip -force -batch -` coprocess (./writer.ts): -force goes on past a failed line so one bad route never
 * blocks the others. IPv6 rules need `ip -6` (iproute2 6.1 does not infer the family of `rule add from <v6>`, and
 * batch lines take no global options), so they go through a second coprocess, started only when they change.
 */
import type { IpFamily } from '../../core/index.js';
import type { DesiredRoute, NextHop, Ownership } from '../../core/plan/index.js';
import { execProgram } from '../exec.js';
import { defaultMetric, diffIndexed, indexKernel, routeKey, type DesiredKernel, type KernelIndex, type KernelOp } from './diff.js';
import type { ApplyReport, KernelOpResult, KernelPort } from './port.js';
import { parseRoutes, parseRules, sortHops, type KernelRoute, type KernelRule, type KernelState } from './state.js';
import { IpBatchWriter } from './writer.js';

/** Options of the iproute2 adapter. */
export interface IprouteKernelProps {
  /** What kroute owns (core/plan/ownership.ts): routes and rules with its protocol are kroute's, the rest foreign. */
  readonly ownership: Ownership;
  /** Run every `ip` with `-n NAME` (tests); the agent itself runs inside the node's namespace. */
  readonly netns?: string;
  /** The `ip` binary. @default 'ip' */
  readonly ipCommand?: string;
  /** @default 30000 */
  readonly timeoutMs?: number;
}

const SAFE_TOKEN = /^[A-Za-z0-9_.:/@-]+$/;

function hopTokens(h: NextHop): string[] {
  return [...(h.gateway ? ['via', h.gateway] : []), ...(h.dev ? ['dev', h.dev] : [])];
}

/** The `ip -batch` line for one operation, as tokens. */
export function opTokens(op: KernelOp): string[] {
  switch (op.kind) {
    case 'replace-route': {
      const r = op.route;
      const hops = r.nexthops.length === 1 ? hopTokens(r.nexthops[0]) : r.nexthops.flatMap((h) => ['nexthop', ...hopTokens(h)]);
      return ['route', 'replace', r.dst, 'table', String(r.table), 'proto', String(r.protocol), ...hops];
    }
    case 'delete-route': {
      const r = op.route;
      return ['route', 'del', r.dst, 'table', String(r.table), 'proto', String(r.protocol), 'metric', String(r.metric)];
    }
    case 'add-rule':
    case 'delete-rule': {
      const r = op.rule;
      return [
        'rule', op.kind === 'add-rule' ? 'add' : 'del', 'priority', String(r.priority),
        ...(r.src !== 'all' || r.fwmark === undefined ? ['from', r.src] : []),
        ...(r.fwmark !== undefined ? ['fwmark', `0x${r.fwmark.toString(16)}`] : []),
        'table', String(r.table), 'protocol', String(r.protocol),
      ];
    }
  }
}

/**
 * The `ip -batch` line of one operation, or undefined when a token is not plain. A route replace (nearly every line
 * of a large apply) is built directly, checking only the parts that come from outside (prefix, gateways, devices).
 */
export function opLine(op: KernelOp): string | undefined {
  if (op.kind === 'replace-route') {
    const r = op.route;
    if (!SAFE_TOKEN.test(r.dst)) return undefined;
    let hops = '';
    for (const h of r.nexthops) {
      if ((h.gateway !== undefined && !SAFE_TOKEN.test(h.gateway)) || (h.dev !== undefined && !SAFE_TOKEN.test(h.dev))) return undefined;
      const one = `${h.gateway ? ` via ${h.gateway}` : ''}${h.dev ? ` dev ${h.dev}` : ''}`;
      hops += r.nexthops.length === 1 ? one : ` nexthop${one}`;
    }
    return `route replace ${r.dst} table ${Math.trunc(r.table)} proto ${Math.trunc(r.protocol)}${hops}`;
  }
  const tokens = opTokens(op);
  return tokens.every((t) => SAFE_TOKEN.test(t)) ? tokens.join(' ') : undefined;
}

function opFamily(op: KernelOp): IpFamily {
  return op.kind === 'replace-route' || op.kind === 'delete-route' ? op.route.family : op.rule.family;
}

/** Maps `ip -batch -force` stderr (`Error: ...` then `Command failed -:N`) to line numbers. */
export function batchErrors(stderr: string): Map<number, string> {
  const out = new Map<number, string>();
  let pending: string[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^Command failed -:(\d+)/.exec(line.trim());
    if (m) {
      out.set(Number(m[1]), pending.join(' ').trim() || 'failed');
      pending = [];
    } else if (line.trim() !== '') pending.push(line.trim());
  }
  return out;
}

/** A desired route as the kernel will hold it once replaced (what a later diff compares with). */
function asKernelRoute(r: DesiredRoute): KernelRoute {
  return { family: r.family, dst: r.dst, table: r.table, protocol: r.protocol, metric: defaultMetric(r.family), type: 1, nexthops: sortHops(r.nexthops) };
}

/**
 * kroute's part of the kernel as last read, indexed as the diff looks it up, and kept up to date from the adapter's
 * own successful writes (no read per pass). Dropped (and read again on the next apply) after any failed write, and by
 * {@link IprouteKernel.invalidate} (the route monitor saw a change someone else made; the periodic resync).
 */
interface KernelCache {
  readonly owned: Map<string, KernelRoute>;
  readonly duplicates: readonly KernelRoute[];
  readonly foreign: ReadonlyMap<string, KernelRoute>;
  ownedRules: KernelRule[];
}

/** kroute's kernel port, implemented with iproute2. */
export class IprouteKernel implements KernelPort {
  private readonly ip: string;
  private readonly prefix: string[];
  private readonly writers = new Map<string, IpBatchWriter>();
  private cache?: KernelCache;
  /** Deletions sent to the writer whose monitor line has not come yet ("table dst"). */
  private readonly ownDeletes = new Set<string>();
  /** Kernel reads so far (the benchmark and tests check that a pass reads at most once). */
  reads = 0;

  constructor(private readonly props: IprouteKernelProps) {
    this.ip = props.ipCommand ?? 'ip';
    this.prefix = props.netns ? ['-n', props.netns] : [];
  }

  /**
   * One family's routes (all tables) and rules, from one `ip -batch` process: each batch line prints its own JSON
   * array on its own line. Two processes per read instead of four: at 1,000 routes, process start is most of a read.
   */
  private async show(family: IpFamily): Promise<{ routes: string; rules: string }> {
    const args = [...this.prefix, `-${family}`, '-N', '-json', '-batch', '-'];
    const r = await execProgram(this.ip, args, { input: 'route show table all\nrule show\n', timeoutMs: this.props.timeoutMs });
    if (r.code !== 0) throw new Error(`ip -${family} route/rule show failed: ${r.error ?? r.stderr.trim()}`);
    const arrays = r.stdout.split('\n').filter((l) => l.trim() !== '');
    if (arrays.length !== 2) throw new Error(`ip -${family} route/rule show printed ${arrays.length} JSON lines, not 2`);
    return { routes: arrays[0], rules: arrays[1] };
  }

  async read(): Promise<KernelState> {
    this.reads++;
    this.ownDeletes.clear();
    // The writer starts while the kernel is read: its process start overlaps the read instead of adding to the apply.
    this.writer('').warm();
    const [v4, v6] = await Promise.all([this.show(4), this.show(6)]);
    const routes = [...parseRoutes(v4.routes, 4), ...parseRoutes(v6.routes, 6)];
    const p = this.props.ownership.protocol;
    const state: KernelState = {
      owned: routes.filter((r) => r.protocol === p),
      foreign: routes.filter((r) => r.protocol !== p),
      ownedRules: [...parseRules(v4.rules, 4), ...parseRules(v6.rules, 6)].filter((r) => r.protocol === p),
    };
    const index = indexKernel(state, p);
    // Two owned routes under one key cannot be followed in a map: leave such a kernel uncached (the diff prunes one).
    this.cache = index.duplicates.length ? undefined : { owned: new Map(index.owned), duplicates: [], foreign: index.foreign, ownedRules: [...index.ownedRules] };
    return state;
  }

  /** Forgets the cached kernel state: the next apply reads the kernel again. */
  invalidate(): void {
    this.cache = undefined;
    this.ownDeletes.clear();
  }

  /**
   * True when an `ip monitor` line reports a deletion this adapter made itself (sent to its writer, not yet seen):
   * its view already follows it, so nothing is read again. Deleting 1,000 Routes read the kernel once per route.
   */
  ownChange(line: string): boolean {
    const m = /^Deleted (\S+) .*?(?:\btable (\d+) .*)?\bproto (\d+)\b/.exec(line);
    if (!m || Number(m[3]) !== this.props.ownership.protocol) return false;
    const table = m[2] ?? '254';
    const dsts = m[1] === 'default' ? ['0.0.0.0/0', '::/0'] : [m[1].includes('/') ? m[1] : `${m[1]}/${m[1].includes(':') ? 128 : 32}`];
    return dsts.some((d) => this.ownDeletes.delete(`${table} ${d}`));
  }

  /** The kernel as the diff sees it: the cached index, or a read (which fills the cache when it can). */
  private async current(): Promise<KernelIndex> {
    if (this.cache) return this.cache;
    const state = await this.read();
    return this.cache ?? indexKernel(state, this.props.ownership.protocol);
  }

  private writer(family: '' | '-6'): IpBatchWriter {
    let w = this.writers.get(family);
    if (!w) {
      w = new IpBatchWriter({ globalArgs: [...this.prefix, ...(family ? [family] : [])], ipCommand: this.ip, ...(this.props.timeoutMs ? { timeoutMs: this.props.timeoutMs } : {}) });
      this.writers.set(family, w);
    }
    return w;
  }

  /** Coprocesses started so far, over both writers. */
  get writerStarts(): number {
    let n = 0;
    for (const w of this.writers.values()) n += w.starts;
    return n;
  }

  /**
   * Writes operations through the long-lived writers: routes and IPv4 rules in one batch, IPv6 rules (which need
   * `ip -6`) in a second, only when there are any. The cache follows every successful operation.
   */
  async write(ops: readonly KernelOp[]): Promise<{ results: KernelOpResult[]; writes: number }> {
    const results: KernelOpResult[] = [];
    const v6rules = ops.filter((op) => (op.kind === 'add-rule' || op.kind === 'delete-rule') && opFamily(op) === 6);
    const main = v6rules.length ? ops.filter((op) => !v6rules.includes(op)) : ops;
    let writes = 0;
    for (const [batch, family] of [[main, ''], [v6rules, '-6']] as const) {
      if (batch.length === 0) continue;
      const sent: KernelOp[] = [];
      const ownDeletes = this.ownDeletes;
      // Rendered as the writer takes them: the first chunk is in the kernel while the rest is still being rendered.
      function* lines(): Generator<string> {
        for (const op of batch) {
          const line = opLine(op);
          if (line === undefined) {
            const bad = opTokens(op).find((t) => !SAFE_TOKEN.test(t));
            results.push({ op, error: `refusing to write ${JSON.stringify(bad)}: not a plain token` });
            continue;
          }
          sent.push(op);
          if (op.kind === 'delete-route') ownDeletes.add(`${op.route.table} ${op.route.dst}`);
          yield line;
        }
      }
      const r = await this.writer(family).write(lines());
      if (sent.length === 0) continue;
      writes++;
      sent.forEach((op, i) => {
        const error = r.failed ?? r.errors.get(i + 1);
        results.push(error === undefined ? { op } : { op, error });
      });
    }
    this.follow(results);
    return { results, writes };
  }

  /** Brings the cache along with what was written; any failure drops it (the kernel is read again next time). */
  private follow(results: readonly KernelOpResult[]): void {
    const c = this.cache;
    if (!c) return;
    if (results.some((r) => r.error !== undefined)) {
      this.invalidate();
      return;
    }
    for (const { op } of results) {
      switch (op.kind) {
        case 'replace-route':
          c.owned.set(routeKey(op.route.family, op.route.table, op.route.dst, defaultMetric(op.route.family)), asKernelRoute(op.route));
          break;
        case 'delete-route':
          c.owned.delete(routeKey(op.route.family, op.route.table, op.route.dst, op.route.metric));
          break;
        case 'add-rule':
          c.ownedRules.push({ family: op.rule.family, priority: op.rule.priority, src: op.rule.src, table: op.rule.table, protocol: op.rule.protocol, ...(op.rule.fwmark !== undefined ? { fwmark: op.rule.fwmark } : {}) });
          break;
        case 'delete-rule': {
          const i = c.ownedRules.indexOf(op.rule);
          if (i >= 0) c.ownedRules.splice(i, 1);
          else this.cache = undefined;
          break;
        }
      }
    }
  }

  /**
   * With its view of the kernel current (between passes, nearly always), the diff runs and the writer gets its first
   * lines before this returns: the caller's next statements overlap the kernel's work, not delay it.
   */
  apply(desired: DesiredKernel): Promise<ApplyReport> {
    if (this.cache) return this.applyTo(this.cache, desired);
    return this.current().then((index) => this.applyTo(index, desired));
  }

  private async applyTo(index: KernelIndex, desired: DesiredKernel): Promise<ApplyReport> {
    const d = diffIndexed(index, desired);
    const w = await this.write(d.ops);
    return { results: w.results, writes: w.writes, conflicts: d.conflicts, unchanged: d.unchanged };
  }

  /** Closes the writers: lines already sent are finished, nothing half-written is ever sent. */
  async close(): Promise<void> {
    await Promise.all([...this.writers.values()].map((w) => w.close()));
    this.writers.clear();
  }
}
