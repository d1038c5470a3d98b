/**
 * The agent's peak resident memory (VmHWM) with 2,500 Routes × 4 destinations (10,000 kernel routes) from a real API
 * server, against the DaemonSet's memory limit (core/agent-manifests.ts). The agent runs as in convergence.ts; the
 * Routes are created with 32 requests in flight, and the peak is read once every route is in the kernel and the
 * reporting (a finalizer and a status entry per Route) has settled. The 10,000-routes-from-a-file peak is measured
 * by program.ts. docs/memory.md says how memory grows with Routes.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { ROUTE_GROUP, ROUTE_PLURAL, ROUTE_VERSION, routeObject } from '../../core/index.js';
import type { AgentProcess } from '../agent/agent-process.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import { buildTopology, until } from '../net/topology.js';
import { inFlight, RouteArrivals, setUp } from './convergence.js';
import { memoryLimitMiB, peakRssMiB, round, type BenchResult } from './types.js';

export const name = 'memory';

const ROUTES = 2500;
const DESTINATIONS = 4;
const IN_FLIGHT = 32;
const coords = { group: ROUTE_GROUP, version: ROUTE_VERSION, plural: ROUTE_PLURAL };

/** Resolves once the agent has logged nothing for `quietMs`. */
async function settled(agent: AgentProcess, quietMs: number, deadlineMs: number): Promise<void> {
  await until('the agent quiet', deadlineMs, async () => {
    const before = agent.logs.length;
    await new Promise((r) => setTimeout(r, quietMs));
    return agent.logs.length === before ? true : undefined;
  }, 0);
}

/** Runs the measurement. */
export async function run(): Promise<BenchResult[]> {
  const topo = await buildTopology({ gateways: 2, echo: false });
  let cp: ControlPlane | undefined;
  let agent: AgentProcess | undefined;
  let arrivals: RouteArrivals | undefined;
  try {
    ({ cp, agent } = await setUp(topo));
    const a = (arrivals = await RouteArrivals.start(topo));
    const kc = new KubeConfig();
    kc.loadFromFile(cp.localKubeconfig);
    const api = kc.makeApiClient(CustomObjectsApi);
    const gateway = topo.gateways[0]?.vpcV4 ?? '10.114.0.3';
    const idle = peakRssMiB(agent.pid);
    const routes = Array.from({ length: ROUTES }, (_, i) => ({
      name: `mem-${i}`,
      dsts: Array.from({ length: DESTINATIONS }, (_, j) => {
        const k = i * DESTINATIONS + j;
        return `10.${128 + (k >> 16)}.${(k >> 8) & 255}.${k & 255}`;
      }),
    }));
    const t0 = performance.now();
    await inFlight(routes, IN_FLIGHT, (m) => api.createClusterCustomObject({ ...coords, body: routeObject(m.name, { destinations: m.dsts.map((x) => `${x}/32`), gateways: [gateway] }) }));
    const created = performance.now() - t0;
    await a.wait(`${ROUTES * DESTINATIONS} routes in the kernel`, () => routes.every((m) => m.dsts.every((x) => a.added.has(x))), 600_000);
    const inKernel = performance.now() - t0;
    await settled(agent, 3000, 600_000);
    const peak = peakRssMiB(agent.pid);
    const limit = memoryLimitMiB();
    // Not deleted: the control plane and the namespaces are torn down next.
    return [
      {
        name: `agent peak resident memory (VmHWM), ${ROUTES} Routes × ${DESTINATIONS} destinations from the API server`,
        value: round(peak),
        unit: 'MiB',
        goal: `<= 80% of the ${limit} MiB limit`,
        met: peak <= limit * 0.8,
        note: `${round(peak / limit)} of the DaemonSet's limit; ${round(idle)} MiB before the Routes; created in ${round(created / 1000)} s (${IN_FLIGHT} in flight), all in the kernel after ${round(inKernel / 1000)} s; read after status and finalizers settled`,
      },
    ];
  } finally {
    await arrivals?.stop();
    await agent?.stop().catch(() => undefined);
    await cp?.stop();
    await topo.destroy();
  }
}
