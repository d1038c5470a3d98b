/**
 * Gateway failover with the real agent (root, network namespaces), probing every 0.5 s with a fall count of 2: a
 * gateway whose link is cut leaves the multipath route and every new connection goes through the other one, within
 * the budget the probe settings allow; it comes back when it answers again. A gateway that still answers pings but
 * stopped forwarding is only caught by a forwarding probe (kroute-probe: one process for every gateway's, beside
 * the one fping). Failover times are printed (the benchmark records them).
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DOKS_EXAMPLES_DIR } from '../fixtures/doks-examples.js';
import { DEST, resumeForwarding, setGatewayLink, stopForwarding, until } from '../net/topology.js';
import { useTopology } from '../net/use-topology.js';
import { ownedRoute, routesDir, startAgent, writeRoutes, type AgentProcess } from './agent-process.js';
import { failover, startFlowMeter, type FlowMeter } from './flow-meter.js';
import { ensureKrouteProbe } from '../cluster/binaries.js';

/** Program names of the processes whose parent is `pid` (from /proc/PID/stat). */
async function childrenOf(pid: number): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(await readFile(`/proc/${d}/stat`, 'utf8').catch(() => ''));
    if (m && Number(m[2]) === pid) out.push(m[1]);
  }
  return out.sort();
}

/** Probe interval 0.5 s, timeout 0.3 s, fall 2: detection within ~1.3 s; the budget adds the reconcile and slack for a loaded CI machine. */
const BUDGET_MS = 4000;

const topo = useTopology({ gateways: 2 });
let agent: AgentProcess | undefined;
let meter: FlowMeter | undefined;

async function gatewaysOf(dst: string): Promise<readonly string[]> {
  return (await ownedRoute(topo.node, dst))?.gateways ?? [];
}

async function until2(): Promise<void> {
  await until('both gateways in 0.0.0.0/5', 15_000, async () => (await gatewaysOf('0.0.0.0/5')).length === 2);
}

/** Starts a meter and waits until it sees both gateways with no failure. */
async function steadyMeter(): Promise<FlowMeter> {
  const m = startFlowMeter(topo.node, DEST.inFiveV4, { batch: 16, periodMs: 50, timeoutMs: 250, processes: topo.processes });
  const t = Date.now();
  const b = await m.waitForBatchesAfter(t, 5, 10_000);
  const last = b.slice(-3);
  expect(last.every((x) => x.fail === 0)).toBe(true);
  expect(new Set(last.flatMap((x) => Object.keys(x.via)))).toEqual(new Set(topo.gateways.map((g) => g.uplinkV4)));
  return m;
}

afterEach(() => {
  meter?.stop();
  meter = undefined;
});

describe('gateway failover (agent process, root, network namespaces)', () => {
  it('a gateway whose link is cut leaves the route and all new connections move to the other within the budget; it returns when it answers again', async () => {
    const dir = routesDir(topo);
    writeRoutes(dir, 'route.yaml', readFileSync(join(DOKS_EXAMPLES_DIR, '2-ecmp.yaml'), 'utf8'));
    agent = startAgent(topo, dir);
    await until2();
    meter = await steadyMeter();
    const [g0, g1] = topo.gateways;

    const breakAt = Date.now();
    await setGatewayLink(g0, false);
    const down = await agent.waitForLog((l) => l.msg === 'gateway down' && l.gateway === g0.vpcV4, 10_000, 'gateway down');
    await until('gw0 out of the route', 10_000, async () => ((await gatewaysOf('0.0.0.0/5')).join() === g1.vpcV4 ? true : undefined));
    const m = await until('connections steady again', 15_000, async () => {
      const f = failover(meter?.batches ?? [], breakAt);
      return f.recoveredMs !== undefined ? f : undefined;
    });
    const detectMs = Date.parse(String(down.time)) - breakAt;
    process.stdout.write(`link cut: gateway down logged after ${detectMs} ms; all new connections succeed again after ${m.recoveredMs} ms (${m.failed} failed meanwhile)\n`);
    expect(m.sawOutage).toBe(true);
    expect(m.recoveredMs).toBeLessThan(BUDGET_MS);
    const tail = meter.batches.slice(-5);
    expect(new Set(tail.flatMap((b) => Object.keys(b.via)))).toEqual(new Set([g1.uplinkV4]));

    const upAt = Date.now();
    await setGatewayLink(g0, true);
    await until2();
    const back = Date.now() - upAt;
    process.stdout.write(`link restored: gw0 back in the route after ${back} ms\n`);
    const after = await meter.waitForBatchesAfter(Date.now(), 5, 10_000);
    expect(after.every((b) => b.fail === 0)).toBe(true);
    expect(new Set(after.flatMap((b) => Object.keys(b.via)))).toEqual(new Set([g0.uplinkV4, g1.uplinkV4]));
  });

  it('without a forwarding probe, a gateway that answers pings but stopped forwarding stays in the route and the connections hashed to it fail (what the kernel does)', async () => {
    await until2();
    meter = await steadyMeter();
    const g0 = topo.gateways[0];
    const breakAt = Date.now();
    await stopForwarding(g0, 'nft');
    try {
      // Six probe rounds later: the gateway still answers pings, so gateway liveness keeps it.
      const later = await meter.waitForBatchesAfter(breakAt + 3000, 3, 10_000);
      expect(await gatewaysOf('0.0.0.0/5')).toHaveLength(2);
      expect(later.every((b) => b.fail > 0 && b.ok > 0)).toBe(true);
      expect(later.flatMap((b) => Object.keys(b.via))).not.toContain(g0.uplinkV4);
    } finally {
      await resumeForwarding(g0);
    }
  });

  it('with --forward-probe-target (kroute-probe, built with Go), a gateway that stopped forwarding (nft drop, then ip_forward=0) leaves the route and comes back, all probed by one fping and one kroute-probe', async () => {
    const dir = routesDir(topo, 'fwd');
    writeRoutes(dir, 'route.yaml', readFileSync(join(DOKS_EXAMPLES_DIR, '2-ecmp.yaml'), 'utf8'));
    await agent?.stop();
    agent = startAgent(topo, dir, { args: ['--forward-probe-target', DEST.otherV4, '--forward-prober', await ensureKrouteProbe()] });
    await until2();
    const [g0, g1] = topo.gateways;
    // Both gateways' forwarding probes from one kroute-probe, their own probes from one fping (the agent's other
    // children are its `ip` commands and monitor).
    const pid = agent.pid;
    const probers = async () => (await childrenOf(pid)).filter((c) => c === 'fping' || c === 'kroute-probe').join();
    await until('one fping and one kroute-probe under the agent', 10_000, async () => ((await probers()) === 'fping,kroute-probe' ? true : undefined));
    for (const how of ['nft', 'sysctl'] as const) {
      meter = await steadyMeter();
      const breakAt = Date.now();
      await stopForwarding(g0, how);
      await until(`gw0 out of the route (${how})`, 10_000, async () => ((await gatewaysOf('0.0.0.0/5')).join() === g1.vpcV4 ? true : undefined));
      const m = await until('connections steady again', 15_000, async () => {
        const f = failover(meter?.batches ?? [], breakAt);
        return f.recoveredMs !== undefined ? f : undefined;
      });
      process.stdout.write(`forwarding stopped (${how}): all new connections succeed again after ${m.recoveredMs} ms\n`);
      expect(m.recoveredMs).toBeLessThan(BUDGET_MS);
      await resumeForwarding(g0);
      await until2();
      meter.stop();
    }
  });
});
