/**
 * A flow meter in the node namespace: every period it opens a batch of new TCP connections (new source ports, so
 * ECMP hashes them over every gateway) and reports, per batch, how many made it and through which gateway. Used to
 * measure failover as a user sees it: from the moment a gateway breaks until every new connection succeeds again.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Netns } from '../net/netns.js';
import { ECHO_PORT } from '../net/topology.js';

/** One batch of connections. */
export interface Batch {
  /** Wall-clock start of the batch (ms since the epoch). */
  readonly t: number;
  readonly ok: number;
  readonly fail: number;
  /** Address the server saw -> connections. */
  readonly via: Readonly<Record<string, number>>;
}

const METER = `const [host, port, batch, period, timeout] = process.argv.slice(1).map((x, i) => (i === 0 ? x : Number(x)));
const net = require('net');
const one = () => new Promise((res) => {
  const s = net.connect(port, host); let d = '';
  const t = setTimeout(() => { s.destroy(); res('fail'); }, timeout);
  s.on('data', (x) => (d += x)); s.on('end', () => { clearTimeout(t); res(d.trim() || 'fail'); });
  s.on('error', () => { clearTimeout(t); res('fail'); });
});
const tick = async () => {
  const t = Date.now();
  const out = await Promise.all(Array.from({ length: batch }, one));
  const via = {}; let ok = 0;
  for (const o of out) if (o !== 'fail') { ok++; via[o] = (via[o] || 0) + 1; }
  console.log(JSON.stringify({ t, ok, fail: batch - ok, via }));
};
setInterval(tick, period); tick();`;

/** A running meter. */
export interface FlowMeter {
  readonly batches: Batch[];
  /** Resolves once a batch that started after `t` has been reported (and `n` of them). */
  waitForBatchesAfter(t: number, n: number, deadlineMs: number): Promise<Batch[]>;
  stop(): void;
}

/** Starts a meter: `batch` connections every `periodMs`, each given up after `timeoutMs`. */
export function startFlowMeter(ns: Netns, host: string, opts: { batch?: number; periodMs?: number; timeoutMs?: number; port?: number; processes?: ChildProcess[] } = {}): FlowMeter {
  const p = ns.spawn('node', ['-e', METER, host, String(opts.port ?? ECHO_PORT), String(opts.batch ?? 16), String(opts.periodMs ?? 50), String(opts.timeoutMs ?? 250)]);
  opts.processes?.push(p);
  const batches: Batch[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: p.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    batches.push(JSON.parse(line) as Batch);
    for (const w of [...waiters]) w();
  });
  return {
    batches,
    waitForBatchesAfter: (t, n, deadlineMs) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const after = batches.filter((b) => b.t > t);
          if (after.length >= n) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(after);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the flow meter reported fewer than ${n} batches within ${deadlineMs} ms`));
        }, deadlineMs);
        waiters.add(check);
        check();
      }),
    stop: () => p.kill('SIGKILL'),
  };
}

/** What one failover looked like from the meter's side. */
export interface FailoverMeasure {
  /** ms from the break to the first batch after which every batch fully succeeded; undefined if never. */
  readonly recoveredMs?: number;
  /** Connections that failed after the break. */
  readonly failed: number;
  /** True if some connection failed after the break (the break was real). */
  readonly sawOutage: boolean;
}

/**
 * Reads the batches after `breakAt`: the failover time is when the last failing batch ended and every later batch
 * (at least `steady` of them) succeeded completely.
 */
export function failover(batches: readonly Batch[], breakAt: number, steady = 5): FailoverMeasure {
  const after = batches.filter((b) => b.t >= breakAt);
  const failed = after.reduce((n, b) => n + b.fail, 0);
  let lastBad = -1;
  after.forEach((b, i) => {
    if (b.fail > 0) lastBad = i;
  });
  const firstGood = lastBad + 1;
  const good = after.slice(firstGood);
  if (good.length < steady) return { failed, sawOutage: failed > 0 };
  const first = good[0] as Batch;
  return { recoveredMs: lastBad < 0 ? 0 : first.t - breakAt, failed, sawOutage: failed > 0 };
}
