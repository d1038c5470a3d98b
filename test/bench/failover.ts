/**
 * Failover time as a user sees it: a two-gateway ECMP route, a flow meter opening 16 new TCP connections every
 * 50 ms, then one gateway's VPC link is cut. Measured from the cut until every new connection succeeds again (the
 * flow meter), and until the agent logs the gateway down. Short probe settings: interval 0.5 s, timeout 0.3 s, fall 2.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DOKS_EXAMPLES_DIR } from '../fixtures/doks-examples.js';
import { buildTopology, DEST, setGatewayLink, until } from '../net/topology.js';
import { ownedRoute, routesDir, startAgent, writeRoutes } from '../agent/agent-process.js';
import { failover, startFlowMeter } from '../agent/flow-meter.js';
import { median, round, type BenchResult } from './types.js';

export const name = 'failover';

const RUNS = 5;
const SETTINGS = { interval: 0.5, timeout: 0.3, fall: 2 };

/** Runs the measurement. */
export async function run(): Promise<BenchResult[]> {
  const topo = await buildTopology({ gateways: 2 });
  const recovered: number[] = [];
  const detected: number[] = [];
  const restored: number[] = [];
  try {
    const dir = routesDir(topo);
    writeRoutes(dir, 'route.yaml', readFileSync(join(DOKS_EXAMPLES_DIR, '2-ecmp.yaml'), 'utf8'));
    const agent = startAgent(topo, dir, {
      args: ['--probe-interval-seconds', String(SETTINGS.interval), '--probe-timeout-seconds', String(SETTINGS.timeout), '--probe-fall-count', String(SETTINGS.fall)],
    });
    const both = () => until('both gateways', 15_000, async () => ((await ownedRoute(topo.node, '0.0.0.0/5'))?.gateways.length === 2 ? true : undefined));
    await both();
    const meter = startFlowMeter(topo.node, DEST.inFiveV4, { batch: 16, periodMs: 50, timeoutMs: 250, processes: topo.processes });
    const g0 = topo.gateways[0];
    if (!g0) throw new Error('no gateway');
    for (let i = 0; i < RUNS; i++) {
      const steady = await meter.waitForBatchesAfter(Date.now(), 5, 15_000);
      if (steady.some((b) => b.fail > 0)) throw new Error('connections failing before the cut');
      const logIndex = agent.logs.length;
      const cut = Date.now();
      await setGatewayLink(g0, false);
      const down = (await agent.waitForLogs((l) => l.msg === 'gateway down', 1, 15_000, logIndex))[0];
      const m = await until('steady again', 20_000, async () => {
        const f = failover(meter.batches, cut);
        return f.recoveredMs !== undefined ? f : undefined;
      });
      if (!m.sawOutage) throw new Error('the cut caused no failed connection: nothing was measured');
      recovered.push(m.recoveredMs ?? Number.NaN);
      detected.push(Date.parse(String(down?.time)) - cut);
      const up = Date.now();
      await setGatewayLink(g0, true);
      await both();
      restored.push(Date.now() - up);
    }
    meter.stop();
    await agent.stop();
  } finally {
    await topo.destroy();
  }
  const note = `median of ${RUNS} link cuts; probe interval ${SETTINGS.interval} s, timeout ${SETTINGS.timeout} s, fall ${SETTINGS.fall}`;
  const r = median(recovered);
  return [
    { name: 'failover, cut to every new connection succeeding', value: round(r), unit: 'ms', goal: '< 3000', met: r < 3000, note: `${note}; runs: ${recovered.join(', ')}` },
    { name: 'failover, cut to "gateway down" logged', value: round(median(detected)), unit: 'ms', note: `${note}; runs: ${detected.join(', ')}` },
    { name: 'gateway back in the route after its link returns', value: round(median(restored)), unit: 'ms', note: `${note}; rise 1` },
  ];
}
