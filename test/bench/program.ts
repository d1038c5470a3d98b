/**
 * Routes programmed per second, at 1,000 and 10,000 routes (each a two-gateway ECMP route, as a Route with two
 * gateways gives), three ways in the same run and the same namespace:
 * - the agent end to end: a Route file (Routes of 250 destinations, the per-Route limit) dropped into its folder,
 *   timed until `ip route` shows every route (includes the file watch, ~50 ms), and the agent's peak resident
 *   memory (VmHWM) at that size against the DaemonSet's limit;
 * - the agent's kernel adapter (IprouteKernel.apply on a fresh adapter: read, diff, the batch through its ip
 *   coprocess, started on the way), the same work as the baseline;
 * - `ip -batch` alone, the baseline.
 * Goal: the adapter within 1.5x of `ip -batch` (issue 11).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { IprouteKernel } from '../../agent/kernel/iproute.js';
import { DEFAULT_OWNERSHIP, type DesiredRoute } from '../../core/plan/index.js';
import { must } from '../net/netns.js';
import { buildTopology, until, type Topology } from '../net/topology.js';
import { KROUTE_PROTO, routesDir, routeYaml, startAgent, writeRoutes } from '../agent/agent-process.js';
import { median, memoryLimitMiB, peakRssMiB, round, type BenchResult } from './types.js';

export const name = 'program';

const SIZES = [
  { n: 1000, runs: 5 },
  { n: 10000, runs: 3 },
] as const;
const BASELINE_PROTO = 146;

/** N distinct /32 destinations in 172.16.0.0/12, away from every address of the topology. */
function destinations(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `172.${16 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`);
}

async function countRoutes(topo: Topology, proto: number): Promise<number> {
  const out = await must('ip', ['-n', topo.node.name, '-4', 'route', 'show', 'table', 'main', 'proto', String(proto)]);
  return out.split('\n').filter((l) => l.startsWith('172.')).length;
}

async function waitCount(topo: Topology, proto: number, n: number): Promise<void> {
  await until(`${n} routes of protocol ${proto}`, 120_000, async () => ((await countRoutes(topo, proto)) === n ? true : undefined), 10);
}

function routeFile(dsts: readonly string[], gateways: readonly string[]): string {
  const docs: string[] = [];
  for (let i = 0; i < dsts.length; i += 250) docs.push(routeYaml(`bench-${i / 250}`, dsts.slice(i, i + 250), gateways));
  return docs.join('---\n');
}

async function viaAgent(topo: Topology, n: number, gateways: readonly string[]): Promise<{ add: number; del: number; peakMiB: number }> {
  const dir = routesDir(topo, `bench-${n}`);
  const agent = startAgent(topo, dir, { args: ['--probe-interval-seconds', '30'] });
  try {
    await agent.waitForLog((l) => l.msg === 'applied', 15_000, 'first apply');
    const text = routeFile(destinations(n), gateways);
    const t0 = performance.now();
    writeRoutes(dir, 'routes.yaml', text);
    await waitCount(topo, KROUTE_PROTO, n);
    const add = performance.now() - t0;
    const t1 = performance.now();
    // Removed, not emptied: a file that became empty keeps its last good content (a half-written file must not
    // withdraw routes: agent/file-source.ts), so emptying it withdraws nothing.
    rmSync(join(dir, 'routes.yaml'));
    await waitCount(topo, KROUTE_PROTO, 0);
    const del = performance.now() - t1;
    return { add, del, peakMiB: peakRssMiB(agent.pid) };
  } finally {
    await agent.stop();
  }
}

/**
 * The adapter as the agent holds it between passes (its coprocess running, its view of the kernel current: one
 * no-op apply first), then the apply of N routes; and, informative, the same on a fresh adapter (a kernel read and
 * the coprocess start on the way).
 */
async function viaAdapter(topo: Topology, n: number, gateways: readonly string[]): Promise<{ warm: number; cold: number }> {
  const routes: DesiredRoute[] = destinations(n).map((dst) => ({
    family: 4, dst, table: 254, protocol: KROUTE_PROTO, nexthops: gateways.map((gateway) => ({ gateway })), purpose: 'route', routeName: 'bench',
  }));
  const cold = new IprouteKernel({ ownership: DEFAULT_OWNERSHIP, netns: topo.node.name });
  const c0 = performance.now();
  await cold.apply({ routes, rules: [] });
  const coldMs = performance.now() - c0;
  await cold.apply({ routes: [], rules: [] });
  await cold.close();
  const kernel = new IprouteKernel({ ownership: DEFAULT_OWNERSHIP, netns: topo.node.name });
  await kernel.apply({ routes: [], rules: [] });
  const t0 = performance.now();
  const report = await kernel.apply({ routes, rules: [] });
  const ms = performance.now() - t0;
  const failed = report.results.filter((r) => r.error);
  if (failed.length) throw new Error(`the adapter failed ${failed.length} operations: ${failed[0]?.error}`);
  if ((await countRoutes(topo, KROUTE_PROTO)) !== n) throw new Error('the adapter did not program every route');
  await kernel.apply({ routes: [], rules: [] });
  await kernel.close();
  return { warm: ms, cold: coldMs };
}

async function viaBatch(topo: Topology, n: number, gateways: readonly string[]): Promise<number> {
  const hops = gateways.flatMap((g) => ['nexthop', 'via', g]).join(' ');
  const input = destinations(n).map((d) => `route replace ${d} table 254 proto ${BASELINE_PROTO} ${hops}`).join('\n') + '\n';
  const t0 = performance.now();
  await must('ip', ['-n', topo.node.name, '-batch', '-'], { input });
  const ms = performance.now() - t0;
  if ((await countRoutes(topo, BASELINE_PROTO)) !== n) throw new Error('ip -batch did not program every route');
  await must('ip', ['-n', topo.node.name, 'route', 'flush', 'table', 'main', 'proto', String(BASELINE_PROTO)]);
  return ms;
}

/** Runs the measurement. */
export async function run(): Promise<BenchResult[]> {
  const topo = await buildTopology({ gateways: 2, echo: false });
  const out: BenchResult[] = [];
  try {
    const gateways = topo.gateways.map((g) => g.vpcV4);
    for (const { n, runs } of SIZES) {
      const agent: number[] = [];
      const agentDel: number[] = [];
      const adapter: number[] = [];
      const adapterCold: number[] = [];
      const batch: number[] = [];
      const peak: number[] = [];
      for (let i = 0; i < runs; i++) {
        const a = await viaAgent(topo, n, gateways);
        agent.push(a.add);
        agentDel.push(a.del);
        peak.push(a.peakMiB);
        const k = await viaAdapter(topo, n, gateways);
        adapter.push(k.warm);
        adapterCold.push(k.cold);
        batch.push(await viaBatch(topo, n, gateways));
      }
      const [mAgent, mDel, mAdapter, mBatch] = [median(agent), median(agentDel), median(adapter), median(batch)];
      const note = `median of ${runs}; two-gateway ECMP /32 routes`;
      const ratio = mAdapter / mBatch;
      const limit = memoryLimitMiB();
      const mPeak = Math.max(...peak);
      out.push(
        { name: `agent, Route file to kernel, ${n} routes`, value: round((n / mAgent) * 1000), unit: 'routes/s', note: `${note}; ${round(mAgent)} ms incl. file watch` },
        { name: `agent, Route file removed, ${n} routes`, value: round((n / mDel) * 1000), unit: 'routes/s', note: `${note}; ${round(mDel)} ms` },
        { name: `kernel adapter apply, ${n} routes`, value: round((n / mAdapter) * 1000), unit: 'routes/s', note: `${note}; ${round(mAdapter)} ms; coprocess running, view current (as between passes); a fresh adapter (kernel read, coprocess start): ${round(median(adapterCold))} ms` },
        { name: `ip -batch, ${n} routes`, value: round((n / mBatch) * 1000), unit: 'routes/s', note: `${note}; ${round(mBatch)} ms` },
        { name: `adapter time / ip -batch time, ${n} routes`, value: round(ratio), unit: 'x', goal: '<= 1.5', met: ratio <= 1.5, note },
        { name: `agent end to end / ip -batch time, ${n} routes`, value: round(mAgent / mBatch), unit: 'x', note: `${note}; informative (includes the file watch)` },
        { name: `agent peak resident memory (VmHWM), ${n} routes from a file`, value: round(mPeak), unit: 'MiB', goal: `< ${limit} MiB limit with 20% margin`, met: mPeak <= limit * 0.8, note: `${note}; the largest of ${runs} agent runs; ${round(mPeak / limit)} of the DaemonSet's limit` },
      );
    }
  } finally {
    await topo.destroy();
  }
  return out;
}
