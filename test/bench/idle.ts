/**
 * The agent's idle cost with 1,000 routes applied (four Routes of 250 destinations, two gateways): CPU over 30 s
 * from /proc/PID/stat (utime+stime of the agent, and with its reaped children: ping and ip), and resident memory
 * (VmRSS). Measured with the default probe interval (30 s, as DOKS) and with a 1 s interval.
 */
import { readFileSync } from 'node:fs';
import { buildTopology, until } from '../net/topology.js';
import { KROUTE_PROTO, routesDir, routeYaml, startAgent, writeRoutes } from '../agent/agent-process.js';
import { must } from '../net/netns.js';
import { round, type BenchResult } from './types.js';

export const name = 'idle';

const WINDOW_MS = 30_000;
/** USER_HZ: /proc/PID/stat counts clock ticks of 1/100 s on Linux. */
const TICKS_PER_SECOND = 100;

function ticks(pid: number): { self: number; children: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ")".
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const n = (i: number) => Number(f[i - 3]);
  return { self: n(14) + n(15), children: n(16) + n(17) };
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

async function measure(probeSeconds: number): Promise<BenchResult[]> {
  const topo = await buildTopology({ gateways: 2, echo: false });
  try {
    const dir = routesDir(topo);
    const gws = topo.gateways.map((g) => g.vpcV4);
    const docs = Array.from({ length: 4 }, (_, k) =>
      routeYaml(`idle-${k}`, Array.from({ length: 250 }, (_, i) => `172.20.${k}.${i}/32`), gws));
    writeRoutes(dir, 'routes.yaml', docs.join('---\n'));
    const agent = startAgent(topo, dir, { args: ['--probe-interval-seconds', String(probeSeconds)] });
    await until('1000 routes', 60_000, async () => {
      const out = await must('ip', ['-n', topo.node.name, '-4', 'route', 'show', 'table', 'main', 'proto', String(KROUTE_PROTO)]);
      return out.split('\n').filter((l) => l.startsWith('172.20.')).length === 1000 ? true : undefined;
    });
    const comm = readFileSync(`/proc/${agent.pid}/comm`, 'utf8').trim();
    if (comm !== 'node') throw new Error(`pid ${agent.pid} is ${comm}, not the agent's node process`);
    const a = ticks(agent.pid);
    const t0 = Date.now();
    // The measurement window: wait for the agent's log to move past it, or the window to end (no sleep: a deadline).
    await agent.waitForLog((l) => l.msg === 'never logged', WINDOW_MS).catch(() => undefined);
    const seconds = (Date.now() - t0) / 1000;
    const b = ticks(agent.pid);
    const rss = rssMiB(agent.pid);
    await agent.stop();
    const cpu = ((b.self - a.self) / TICKS_PER_SECOND / seconds) * 100;
    const withChildren = ((b.self + b.children - a.self - a.children) / TICKS_PER_SECOND / seconds) * 100;
    const note = `1,000 routes applied; probe interval ${probeSeconds} s; ${Math.round(seconds)} s window`;
    return [
      { name: `idle CPU, agent process, probe ${probeSeconds} s`, value: round(cpu), unit: '% of one core', note },
      { name: `idle CPU with ping/ip children, probe ${probeSeconds} s`, value: round(withChildren), unit: '% of one core', note },
      { name: `resident memory (VmRSS), probe ${probeSeconds} s`, value: round(rss), unit: 'MiB', goal: '< 80 MB', met: rss * 1.048576 < 80, note },
    ];
  } finally {
    await topo.destroy();
  }
}

/** Runs the measurement. */
export async function run(): Promise<BenchResult[]> {
  return [...(await measure(30)), ...(await measure(1))];
}
