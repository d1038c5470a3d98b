/**
 * The kernel port over iproute2. Reads with `ip -N -json -batch` (numeric tables and protocols, whatever rt_tables
 * names say; one process per family), writes with one `ip -batch - -force` process per apply (thousands of lines;
 * -force goes on past a failed line so one bad route never blocks the others). IPv6 rules need `ip -6` (iproute2 6.1 does not infer the family of
 * `rule add from <v6>`, and batch lines take no global options), so they go in a second batch, only when they change.
 */
import type { IpFamily } from '../../core/index.js';
import type { DesiredRoute, DesiredRule, NextHop } from '../../core/plan/index.js';
import { execProgram, type ExecResult } from '../exec.js';
import { defaultMetric, diffKernel, type DesiredKernel, type KernelOp } from './diff.js';
import type { ApplyReport, KernelOpResult, KernelPort } from './port.js';
import { parseRoutes, parseRules, type KernelRoute, type KernelState } from './state.js';

/** Options of the iproute2 adapter. */
export interface IprouteKernelProps {
  /** rtm_protocol that marks kroute's routes and rules. */
  readonly protocol: number;
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

/** A main-batch `ip -batch - -force` already started, waiting for its lines. */
interface StartedWriter {
  /** Sends the input and closes stdin; later calls do nothing. */
  feed(text: string): void;
  readonly result: Promise<ExecResult>;
}

/** kroute's kernel port, implemented with iproute2. */
export class IprouteKernel implements KernelPort {
  private readonly ip: string;
  private readonly prefix: string[];

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
    const [v4, v6] = await Promise.all([this.show(4), this.show(6)]);
    const routes = [...parseRoutes(v4.routes, 4), ...parseRoutes(v6.routes, 6)];
    const p = this.props.protocol;
    return {
      owned: routes.filter((r) => r.protocol === p),
      foreign: routes.filter((r) => r.protocol !== p),
      ownedRules: [...parseRules(v4.rules, 4), ...parseRules(v6.rules, 6)].filter((r) => r.protocol === p),
    };
  }

  /**
   * Writes operations: one batch for routes and IPv4 rules, one `ip -6` batch for IPv6 rules when there are any.
   * `started` is a main-batch writer already running that waits for its input (see {@link apply}).
   */
  async write(ops: readonly KernelOp[], started?: StartedWriter): Promise<{ results: KernelOpResult[]; writes: number }> {
    const results: KernelOpResult[] = [];
    const v6rules = ops.filter((op) => (op.kind === 'add-rule' || op.kind === 'delete-rule') && opFamily(op) === 6);
    const main = ops.filter((op) => !v6rules.includes(op));
    let writes = 0;
    for (const [batch, family] of [[main, undefined], [v6rules, '-6']] as const) {
      if (batch.length === 0) continue;
      const lines: string[] = [];
      const sent: KernelOp[] = [];
      for (const op of batch) {
        const tokens = opTokens(op);
        const bad = tokens.find((t) => !SAFE_TOKEN.test(t));
        if (bad !== undefined) results.push({ op, error: `refusing to write ${JSON.stringify(bad)}: not a plain token` });
        else {
          lines.push(tokens.join(' '));
          sent.push(op);
        }
      }
      if (sent.length === 0) continue;
      writes++;
      const input = lines.join('\n') + '\n';
      const r = family === undefined && started
        ? (started.feed(input), await started.result)
        : await execProgram(this.ip, [...this.prefix, ...(family ? [family] : []), '-batch', '-', '-force'], { input, timeoutMs: this.props.timeoutMs });
      const errors = batchErrors(r.stderr);
      const whole = r.error ?? (r.code !== 0 && errors.size === 0 ? r.stderr.trim() || `ip exited with ${r.code}` : undefined);
      sent.forEach((op, i) => {
        const error = whole ?? errors.get(i + 1);
        results.push(error === undefined ? { op } : { op, error });
      });
    }
    return { results, writes };
  }

  async apply(desired: DesiredKernel): Promise<ApplyReport> {
    // The writer starts while the kernel is read, so its process start is not added to the apply: at 1,000 routes
    // that start is a fifth of what `ip -batch` alone takes. With nothing to write it gets no input and exits.
    const writer = this.startWriter();
    try {
      const d = diffKernel(await this.read(), desired, this.props.protocol);
      const w = await this.write(d.ops, writer);
      return { results: w.results, writes: w.writes, conflicts: d.conflicts, unchanged: d.unchanged };
    } finally {
      writer.feed('');
      await writer.result;
    }
  }

  private startWriter(): StartedWriter {
    let feed: (text: string) => void = () => undefined;
    const input = new Promise<string>((resolve) => (feed = resolve));
    const result = execProgram(this.ip, [...this.prefix, '-batch', '-', '-force'], { input, timeoutMs: this.props.timeoutMs });
    return { feed: (text) => feed(text), result };
  }

  async update(target: DesiredRoute | DesiredRule): Promise<KernelOpResult> {
    const op: KernelOp = 'dst' in target ? { kind: 'replace-route', route: target } : { kind: 'add-rule', rule: target };
    if (op.kind === 'add-rule') {
      // Adding a rule twice duplicates it: go through the diff for rules.
      const state = await this.read();
      const d = diffKernel({ owned: [], foreign: [], ownedRules: state.ownedRules }, { routes: [], rules: [op.rule] }, this.props.protocol);
      if (!d.ops.some((o) => o.kind === 'add-rule')) return { op };
    }
    const w = await this.write([op]);
    return w.results[0] ?? { op };
  }

  async delete(route: KernelRoute): Promise<KernelOpResult> {
    const op: KernelOp = { kind: 'delete-route', route: { ...route, metric: route.metric ?? defaultMetric(route.family) } };
    if (route.protocol !== this.props.protocol) return { op, error: `route to ${route.dst} is not kroute's (protocol ${route.protocol})` };
    const w = await this.write([op]);
    const r = w.results[0] ?? { op };
    // Deleting what is already gone is success: the operation is idempotent.
    return r.error && /No such process|ESRCH/.test(r.error) ? { op } : r;
  }

  async prune(desired: DesiredKernel): Promise<ApplyReport> {
    const d = diffKernel(await this.read(), desired, this.props.protocol);
    const ops = d.ops.filter((op) => op.kind === 'delete-route' || op.kind === 'delete-rule');
    const w = await this.write(ops);
    return { results: w.results, writes: w.writes, conflicts: [], unchanged: d.unchanged };
  }
}
