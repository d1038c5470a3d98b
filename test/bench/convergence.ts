/**
 * Convergence against a real API server: the agent process in the node namespace with `--kubeconfig` (the agent
 * ServiceAccount's token, the synthesized RBAC), the control plane (etcd + kube-apiserver, test/cluster) in the
 * topology's control-plane namespace. Routes are created by the bench process itself with @kubernetes/client-node
 * through the control plane's relay (`localKubeconfig`), one create request per Route, over keep-alive connections.
 * - One by one: 200 Routes (one /32 each), each created after the previous one reached the kernel; latency from
 *   the create response (the API server accepted and stored it) to the route's line in `ip -N monitor route`
 *   running in the node namespace (stamped when the bench process reads it); p50 and p99.
 * - At once: 1,000 Routes created with 32 requests in flight; time from the first create sent to all 1,000 routes
 *   in the kernel (counted from the monitor, then checked with `ip route`), and from the last create response to
 *   the last route in the kernel (goal ≤ 100 ms); the same for deleting them.
 * - The floor on this machine, in the same run: watch-event delivery to a client-node informer in the bench process
 *   (create response → its `add` event, over the same 200 creates), and one route through the agent's writer (an
 *   `ip -force -batch -` coprocess in the node namespace, 200 single-route batches). Figures are given as ratios to it.
 * Goals (issue 11): p50 ≤ 5 ms, p99 ≤ 25 ms one by one; the bulk tail ≤ 100 ms.
 */
import { createConfiguration, CustomObjectsApi, KubeConfig, makeInformer, ServerConfiguration, type KubernetesObject } from '@kubernetes/client-node';
import { KubeTransport } from '../../agent/kube/transport.js';
import { IpBatchWriter } from '../../agent/kernel/writer.js';
import { createInterface } from 'node:readline';
import { agentManifests, reportManifests, resolveAgentManifestOptions, ROUTE_GROUP, ROUTE_PLURAL, ROUTE_VERSION, routeCrd, routeObject, routeReportCrd } from '../../core/index.js';
import { KROUTE_PROTO, startAgent, type AgentProcess } from '../agent/agent-process.js';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.js';
import { agentKubeconfig, standInNode } from '../lab/control-plane.js';
import { buildTopology, CONTROL_PLANE_V4, until, type Topology } from '../net/topology.js';
import { round, type BenchResult } from './types.js';

export const name = 'convergence';

const ONE_BY_ONE = 200;
const AT_ONCE = 1000;
const IN_FLIGHT = 32;
const NODE_NAME = 'node-a';
/** A route of another protocol, added and removed to see that the monitor listens. */
const MARKER = '192.0.2.98';
const coords = { group: ROUTE_GROUP, version: ROUTE_VERSION, plural: ROUTE_PLURAL };

/** The q-quantile (nearest rank) of some numbers. */
function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))] ?? Number.NaN;
}

/** Watches `ip -N monitor route` in the node namespace; remembers when each owned destination was added or deleted. */
export class RouteArrivals {
  readonly added = new Map<string, number>();
  readonly deleted = new Map<string, number>();
  private readonly waiters = new Set<() => void>();
  private markerSeen = false;
  private constructor(private readonly proc: ReturnType<Topology['node']['spawn']>) {
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const now = performance.now();
      if (line.includes(MARKER)) this.markerSeen = true;
      if (!new RegExp(`\\bproto ${KROUTE_PROTO}\\b`).test(line)) return;
      const del = line.startsWith('Deleted ');
      const dst = (del ? line.slice(8) : line).split(' ')[0] ?? '';
      const m = del ? this.deleted : this.added;
      if (!m.has(dst)) m.set(dst, now);
      for (const w of [...this.waiters]) w();
    });
  }

  /** Starts the monitor and returns once it prints (a marker route of another protocol, added and removed). */
  static async start(topo: Topology): Promise<RouteArrivals> {
    const proc = topo.node.spawn('ip', ['-N', 'monitor', 'route']);
    const a = new RouteArrivals(proc);
    await until('the route monitor', 10_000, async () => {
      await topo.node.ip('route', 'replace', `${MARKER}/32`, 'dev', 'eth0', 'proto', '99');
      await topo.node.ip('route', 'del', `${MARKER}/32`, 'proto', '99');
      return a.markerSeen ? true : undefined;
    });
    return a;
  }

  /** Resolves when `pred()` holds (checked on every monitor line), or rejects after `deadlineMs`. */
  wait(what: string, pred: () => boolean, deadlineMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred()) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${what} within ${deadlineMs} ms`));
      }, deadlineMs);
      this.waiters.add(check);
      check();
    });
  }

  stop(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return Promise.resolve();
    const exited = new Promise<void>((r) => this.proc.once('exit', () => r()));
    this.proc.kill('SIGTERM');
    return exited;
  }
}

/**
 * The node, the control plane with the CRDs, the agent's RBAC and its Node, and the agent in Kubernetes mode as the
 * DaemonSet runs it (`--status-reports=node`: its own RouteReport and Lease, nothing written into Routes). The
 * controller (which holds each Route's one finalizer and writes summaries) does not run: the figures are the node's.
 */
export async function setUp(topo: Topology, agentArgs: readonly string[] = []): Promise<{ cp: ControlPlane; agent: AgentProcess }> {
  const resolved = resolveAgentManifestOptions();
  if (!resolved.ok) throw new Error('the default agent options do not resolve');
  const cp = await startControlPlane({ netns: topo.controlPlane, address: CONTROL_PLANE_V4 });
  try {
    const report = routeReportCrd();
    await cp.apply([routeCrd(), report]);
    const est = await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/routes.networking.doks.digitalocean.com', `crd/${String((report.metadata as { name: string }).name)}`]);
    if (est.code !== 0) throw new Error(`the CRDs did not become Established: ${est.stderr}`);
    await cp.apply([...agentManifests(resolved.value), ...reportManifests(resolved.value)].filter((m) => m.kind !== 'DaemonSet' && m.kind !== 'Deployment'));
    await standInNode(cp, NODE_NAME, { 'doks.digitalocean.com/node-pool': 'bench' });
    // A token bound to a stand-in Pod on the node, as a DaemonSet pod's is: the shipped node-restriction policy
    // refuses every Route write from any other token (an unbound one had every finalizer and status write refused and
    // retried, a storm of 403s that slowed the API server's creates to a crawl).
    const kubeconfig = await agentKubeconfig(topo.built, cp, { name: resolved.value.name, namespace: resolved.value.namespace }, NODE_NAME);
    // Probes every 30 s (the default): the figure is convergence, not probing.
    const agent = startAgent(topo, '', { args: ['--routes', '', '--kubeconfig', kubeconfig, '--probe-interval-seconds', '30', '--status-reports', 'node', '--lease-namespace', resolved.value.namespace, ...agentArgs] });
    await agent.waitForLog((l) => l.msg === 'applied', 30_000, 'the first apply');
    return { cp, agent };
  } catch (e) {
    await cp.stop();
    throw e;
  }
}

/** Arrival times grouped into the agent's passes (a gap over 20 ms starts a new one): how many, and when each ended. */
function arrivalBatches(timesMs: readonly number[]): { count: number; atMs: number }[] {
  const out: { count: number; atMs: number }[] = [];
  let last = Number.NEGATIVE_INFINITY;
  for (const t of [...timesMs].sort((x, y) => x - y)) {
    const cur = out.at(-1);
    if (cur && t - last <= 20) {
      cur.count++;
      cur.atMs = t;
    } else out.push({ count: 1, atMs: t });
    last = t;
  }
  return out;
}

/** Runs `fn` over `items` with at most `n` calls in flight. */
export async function inFlight<T>(items: readonly T[], n: number, fn: (x: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  }));
}

async function countOwned(topo: Topology, prefix: string): Promise<number> {
  const list = await topo.node.ipJson<{ dst: string }[]>('-4', 'route', 'show', 'table', 'main', 'proto', String(KROUTE_PROTO));
  return list.filter((r) => r.dst.startsWith(prefix)).length;
}

/** One route through a long-lived `ip -force -batch -` coprocess in the node namespace: `n` single-route batches. */
async function writerFloor(topo: Topology, gateway: string, n: number): Promise<number[]> {
  const w = new IpBatchWriter({ globalArgs: ['-n', topo.node.name] });
  const out: number[] = [];
  try {
    w.warm();
    await w.write([`route replace 192.0.2.200/32 via ${gateway} proto 99`]);
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const r = await w.write([`route replace 192.0.2.201/32 via ${gateway} proto 99`]);
      out.push(performance.now() - t);
      if (r.failed || r.errors.size) throw new Error(`the floor's write failed: ${r.failed ?? [...r.errors.values()].join('; ')}`);
    }
    await w.write(['route del 192.0.2.200/32 proto 99', 'route del 192.0.2.201/32 proto 99']);
  } finally {
    await w.close();
  }
  return out;
}

const ratio = (x: number, floor: number) => (floor > 0 ? `${round(x / floor)}x the floor (${round(floor)} ms)` : 'floor not positive');

/** Runs the measurement. */
export async function run(): Promise<BenchResult[]> {
  const topo = await buildTopology({ gateways: 2, echo: false });
  let cp: ControlPlane | undefined;
  let agent: AgentProcess | undefined;
  let arrivals: RouteArrivals | undefined;
  let transport: KubeTransport | undefined;
  try {
    ({ cp, agent } = await setUp(topo));
    const kc = new KubeConfig();
    kc.loadFromFile(cp.localKubeconfig);
    // Creates over keep-alive connections, as kubectl and client-go make them: client-node 1.3.0 alone opens a new
    // TLS connection per request (kubernetes-client/javascript#2893), which made the 1,000 creates themselves the
    // slowest part of the burst and loaded the API server with handshakes the agent never causes.
    transport = new KubeTransport({ maxSockets: IN_FLIGHT, timeoutMs: 120_000 });
    const server = kc.getCurrentCluster()?.server ?? '';
    const api = new CustomObjectsApi(createConfiguration({ baseServer: new ServerConfiguration(server, {}), authMethods: { default: kc }, httpApi: transport.library() }));
    const gateway = topo.gateways[0]?.vpcV4 ?? '10.114.0.3';
    const create = (name: string, dst: string) => api.createClusterCustomObject({ ...coords, body: routeObject(name, { destinations: [dst], gateways: [gateway] }) });
    arrivals = await RouteArrivals.start(topo);
    const a = arrivals;
    // The floor's first half: a client-node informer in the bench process, stamping each Route's add event.
    const seen = new Map<string, number>();
    const informer = makeInformer(kc, `/apis/${ROUTE_GROUP}/${ROUTE_VERSION}/${ROUTE_PLURAL}`, () => api.listClusterCustomObject(coords) as never);
    informer.on('add', (o: KubernetesObject) => {
      if (o.metadata?.name && !seen.has(o.metadata.name)) seen.set(o.metadata.name, performance.now());
    });
    await informer.start();

    // One by one.
    const latencies: number[] = [];
    const watchDelivery: number[] = [];
    for (let i = 0; i < ONE_BY_ONE; i++) {
      const dst = `172.17.${i >> 8}.${i & 255}`;
      await create(`one-${i}`, `${dst}/32`);
      const accepted = performance.now();
      await a.wait(`${dst} in the kernel`, () => a.added.has(dst), 30_000);
      latencies.push((a.added.get(dst) ?? Number.NaN) - accepted);
      await until(`one-${i} at the bench's informer`, 10_000, async () => (seen.has(`one-${i}`) ? true : undefined), 5);
      watchDelivery.push((seen.get(`one-${i}`) ?? Number.NaN) - accepted);
    }
    await informer.stop();
    const writes = await writerFloor(topo, gateway, ONE_BY_ONE);
    const watchP50 = quantile(watchDelivery, 0.5);
    const writeP50 = quantile(writes, 0.5);
    // The event usually arrives before the create response (negative): then the floor is the write alone.
    const floor = Math.max(0, watchP50) + writeP50;
    process.stdout.write(`  one by one: p50 ${round(quantile(latencies, 0.5))} ms, p99 ${round(quantile(latencies, 0.99))} ms; floor ${round(floor)} ms\n`);
    // Clear them before the burst, so it starts from a quiet agent.
    await api.deleteCollectionClusterCustomObject({ ...coords });
    await until('the one-by-one Routes gone', 120_000, async () => ((await api.listClusterCustomObject(coords)) as { items: unknown[] }).items.length === 0 ? true : undefined, 200);
    await until('their kernel routes gone', 60_000, async () => ((await countOwned(topo, '172.17.')) === 0 ? true : undefined), 100);

    // At once.
    const burst = Array.from({ length: AT_ONCE }, (_, i) => ({ name: `burst-${i}`, dst: `172.18.${i >> 8}.${i & 255}` }));
    const inKernel = () => burst.every((b) => a.added.has(b.dst));
    const t0 = performance.now();
    let lastAccepted = 0;
    await inFlight(burst, IN_FLIGHT, async (b) => {
      await create(b.name, `${b.dst}/32`);
      lastAccepted = Math.max(lastAccepted, performance.now());
    });
    const created = performance.now() - t0;
    await a.wait(`${AT_ONCE} routes in the kernel`, inKernel, 300_000);
    const lastAdded = Math.max(...burst.map((b) => a.added.get(b.dst) ?? Number.NaN));
    if ((await countOwned(topo, '172.18.')) !== AT_ONCE) throw new Error('the monitor saw every route but ip route does not list them all');
    const allIn = lastAdded - t0;
    const tail = lastAdded - lastAccepted;
    process.stdout.write(`  at once: last create accepted → last in the kernel ${round(tail)} ms\n`);
    const batches = arrivalBatches(burst.map((b) => (a.added.get(b.dst) ?? Number.NaN) - t0));

    // Deleted at once, one request per Route (a deletecollection of 1,000 finalized Routes can outlive the API
    // server's 60 s request timeout on a loaded machine).
    const d0 = performance.now();
    await inFlight(burst, IN_FLIGHT, (b) => api.deleteClusterCustomObject({ ...coords, name: b.name }));
    await a.wait(`${AT_ONCE} routes deleted`, () => burst.every((b) => a.deleted.has(b.dst)), 300_000);
    const allOut = Math.max(...burst.map((b) => a.deleted.get(b.dst) ?? Number.NaN)) - d0;
    await until('the burst Routes gone', 300_000, async () => ((await api.listClusterCustomObject(coords)) as { items: unknown[] }).items.length === 0 ? true : undefined, 200);
    const objectsGone = performance.now() - d0;

    const how = `agent process in the node namespace (kubeconfig, SA token); Routes created by client-node in the bench process through the relay`;
    const p50 = quantile(latencies, 0.5);
    const p99 = quantile(latencies, 0.99);
    return [
      { name: 'floor: create response → watch event at a client-node informer, p50', value: round(watchP50), unit: 'ms', note: `over the same ${ONE_BY_ONE} creates; p99 ${round(quantile(watchDelivery, 0.99))} ms; negative: the event arrives before the response` },
      { name: 'floor: one route through the writer (ip -force -batch - coprocess), p50', value: round(writeP50), unit: 'ms', note: `${ONE_BY_ONE} single-route batches, each followed by its marker; p99 ${round(quantile(writes, 0.99))} ms` },
      { name: `Route created → kernel route, p50 (${ONE_BY_ONE} one by one)`, value: round(p50), unit: 'ms', goal: '<= 5', met: p50 <= 5, note: `${how}; from the create response to the ip monitor line; ${ratio(p50, floor)}` },
      { name: `Route created → kernel route, p99 (${ONE_BY_ONE} one by one)`, value: round(p99), unit: 'ms', goal: '<= 25', met: p99 <= 25, note: `max ${round(Math.max(...latencies))} ms; ${ratio(p99, floor)}` },
      { name: `${AT_ONCE} Routes created at once: last create accepted → last route in the kernel`, value: round(tail), unit: 'ms', goal: '<= 100', met: tail <= 100, note: `${IN_FLIGHT} creates in flight took ${round(created / 1000)} s; ${ratio(tail, floor)}` },
      { name: `${AT_ONCE} Routes created at once → all in the kernel`, value: round(allIn / 1000), unit: 's', note: `${how}; from the first create sent; kernel writes in ${batches.length} passes: ${batches.slice(0, 6).map((x) => `${x.count} at ${round(x.atMs / 1000)} s`).join(', ')}${batches.length > 6 ? ', …' : ''}` },
      { name: `${AT_ONCE} Routes deleted at once → all out of the kernel`, value: round(allOut / 1000), unit: 's', note: `${IN_FLIGHT} deletes in flight; objects gone (finalizers released) after ${round(objectsGone / 1000)} s` },
    ];
  } finally {
    transport?.close();
    await arrivals?.stop();
    await agent?.stop().catch(() => undefined);
    await cp?.stop();
    await topo.destroy();
  }
}
