/**
 * The agent's Kubernetes face against a real API server (etcd + kube-apiserver from test/cluster), as the agent
 * ServiceAccount with the synthesized RBAC: Routes reach the snapshot, this node's status entry and finalizer
 * are written and visible with kubectl, a deleted Node's finalizer is cleaned up, and the informers recover by
 * themselves after the API server is killed and started again. Needs Go and root; skipped locally without them,
 * fails in CI.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { agentManifests, defaultAgentConfig, routeObject } from '../../core/index.js';
import { jsonLogger, silentLogger } from '../../agent/log.js';
import { createKubeFace, type KubeFaceHandle } from '../../agent/kube/index.js';
import type { SourceSnapshot } from '../../agent/ports.js';
import { standInNode } from '../lab/control-plane.js';
import { until as waitUntil } from '../lab/wait.js';
import { AGENT_OPTIONS, type ApiServerLab, boundKubeconfigFor, describeWithApiServer, SETUP_TIMEOUT_MS, useApiServerLab } from './harness.js';

const d = describeWithApiServer;

const agent = AGENT_OPTIONS;
const NODE = 'node-a';
const FINALIZER = `${NODE}.nodes.kroute.dev/routes`;
const log = process.env.KROUTE_TEST_LOG ? jsonLogger('debug') : silentLogger;

/** The lab's until with this file's argument order and deadline (30 s, polling every 100 ms). */
const until = <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> => waitUntil(what, timeoutMs, check, 100);

d("the agent's Kubernetes face on a real API server (needs Go and root)", () => {
  const lab = useApiServerLab({ crd: true });
  let face: KubeFaceHandle | undefined;
  const snapshots: SourceSnapshot[] = [];
  const waiters: { pred: (s: SourceSnapshot) => boolean; resolve: (s: SourceSnapshot) => void }[] = [];
  const cp = (): ApiServerLab['cp'] => lab.cp;
  const kf = (): KubeFaceHandle => {
    if (!face) throw new Error('the face did not start');
    return face;
  };
  /** Resolves with the first snapshot (the latest one or a later one) that satisfies `pred`. */
  const snapshotWhere = (what: string, pred: (s: SourceSnapshot) => boolean, timeoutMs = 30_000): Promise<SourceSnapshot> => {
    const last = snapshots.at(-1);
    if (last && pred(last)) return Promise.resolve(last);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no snapshot with ${what} within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({ pred, resolve: (s) => (clearTimeout(t), resolve(s)) });
    });
  };
  const onChange = (s: SourceSnapshot): void => {
    snapshots.push(s);
    for (const w of [...waiters]) {
      if (w.pred(s)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(s);
      }
    }
  };
  const has = (name: string) => (s: SourceSnapshot) => s.routes.some((r) => r.name === name);
  const getRoute = async (name: string): Promise<Record<string, unknown> | undefined> => {
    const r = await cp().kubectl(['get', 'route', name, '-o', 'json', '--show-managed-fields']);
    return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
  };
  const finalizersOf = async (name: string): Promise<string[] | undefined> => {
    const r = await getRoute(name);
    return r ? (((r.metadata as Record<string, unknown>).finalizers as string[] | undefined) ?? []) : undefined;
  };
  const spec = { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.2'] };

  beforeAll(async () => {
    await lab.cp.apply(agentManifests(agent));
    await lab.cp.apply([{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-gone' } }]);
    // No kubelet here: the node is Ready the way a kubelet would say it, through the status subresource.
    await standInNode(lab.cp, NODE, { pool: 'egress' });
    const kc = new KubeConfig();
    // Bound to a Pod on this node, as a DaemonSet Pod's token is: the node-restriction policy needs its node name.
    kc.loadFromFile(await boundKubeconfigFor(lab.cp, agent.name, agent.namespace, NODE, { local: true }));
    face = await createKubeFace({
      config: { ...defaultAgentConfig(), nodeName: NODE },
      log,
      kubeConfig: kc,
      tuning: { debounceMs: 50, backoff: { initialMs: 200, maxMs: 2000, factor: 2, jitter: 0.2 }, settleSeconds: 0.2, sweepSeconds: 30, stuckRecheckSeconds: 1 },
    });
    // Stopped before the control plane (the lab stops what it was given in reverse order).
    lab.lab.onDestroy(face.source);
    await face.source.start(onChange);
  }, SETUP_TIMEOUT_MS);

  it('syncs and reports this node with its labels (as the agent ServiceAccount)', async () => {
    const s = await snapshotWhere('the node', (x) => x.node.labels.pool === 'egress');
    expect(s.node).toEqual({ name: NODE, labels: { pool: 'egress' } });
    expect(kf().source.synced).toBe(true);
    expect(kf().source.connected).toBe(true);
  });

  it('Route create and update reach the snapshot', async () => {
    await cp().apply([routeObject('r1', spec)]);
    const s1 = await snapshotWhere('r1', has('r1'));
    expect(s1.routes.find((r) => r.name === 'r1')).toMatchObject({ deleting: false, generation: 1 });
    await cp().apply([routeObject('r1', { ...spec, gateways: ['10.114.0.3'] })]);
    const s2 = await snapshotWhere('r1 at generation 2', (s) => s.routes.some((r) => r.name === 'r1' && r.generation === 2));
    expect(s2.routes.find((r) => r.name === 'r1')?.object).toMatchObject({ spec: { gateways: ['10.114.0.3'] } });
  });

  it("writes this node's status entry by server-side apply, visible with kubectl; the summary follows", async () => {
    const n = snapshots.length;
    await kf().reporter.status('r1', { nodeName: NODE, state: 'Applied', activeGateways: ['10.114.0.3'], observedGeneration: 2 });
    const r = await until('the status entry', async () => {
      const o = await getRoute('r1');
      const st = o?.status as { nodes?: { nodeName: string }[] } | undefined;
      return st?.nodes?.some((e) => e.nodeName === NODE) ? o : undefined;
    });
    expect((r.status as Record<string, unknown>).nodes).toEqual([{ nodeName: NODE, state: 'Applied', activeGateways: ['10.114.0.3'], observedGeneration: 2 }]);
    const managers = ((r.metadata as Record<string, unknown>).managedFields as { manager: string; subresource?: string }[]).map((m) => [m.manager, m.subresource]);
    expect(managers).toContainEqual([`kroute-agent/${NODE}`, 'status']);
    // Its own write comes back through the watch but is status only: no new snapshot.
    const summary = await until('the summary', async () => {
      const o = await getRoute('r1');
      const st = o?.status as { appliedNodes?: number; selectedNodes?: number; conditions?: { type: string; status: string }[] } | undefined;
      return st?.appliedNodes === 1 ? st : undefined;
    });
    expect(summary).toMatchObject({ appliedNodes: 1, selectedNodes: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'Applied' }] });
    const table = await cp().kubectl(['get', 'route', 'r1']);
    expect(table.stdout).toMatch(/r1\s+\["10\.0\.0\.0\/8"\]\s+\["10\.114\.0\.3"\]\s+1\s/);
    expect(snapshots.length).toBe(n);
  });

  it('writes an Event about the Route; a repeat folds into it instead of a second Event', async () => {
    const e = { routeName: 'r1', type: 'Warning' as const, reason: 'GatewayDown', message: 'gateway 10.114.0.3 stopped answering' };
    await kf().reporter.event(e);
    const ev = await until('the Event', async () => {
      const r = await cp().kubectl(['get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=r1,reason=GatewayDown', '-o', 'json']);
      const items = (JSON.parse(r.stdout) as { items: Record<string, unknown>[] }).items;
      return items.length ? items : undefined;
    });
    await kf().reporter.event(e);
    const again = await cp().kubectl(['get', 'events', '-n', 'default', '--field-selector', 'involvedObject.name=r1,reason=GatewayDown', '-o', 'json']);
    expect((JSON.parse(again.stdout) as { items: unknown[] }).items).toHaveLength(1);
    expect(ev[0]).toMatchObject({ type: 'Warning', count: 1, reportingComponent: 'kroute.dev/agent', reportingInstance: NODE, involvedObject: { kind: 'Route', name: 'r1' } });
  });

  it('holds and releases this node\'s finalizer; deletion waits for the release', async () => {
    await kf().reporter.hold('r1');
    await until('the finalizer', async () => ((await finalizersOf('r1'))?.includes(FINALIZER) ? true : undefined));
    // The cache must see it before release has anything to do.
    await until('the cached finalizer', async () => (kf().source.route('r1')?.metadata.finalizers?.includes(FINALIZER) ? true : undefined));
    const del = await cp().kubectl(['delete', 'route', 'r1', '--wait=false']);
    expect(del.code).toBe(0);
    await snapshotWhere('r1 deleting', (s) => s.routes.some((r) => r.name === 'r1' && r.deleting));
    expect(await finalizersOf('r1')).toEqual([FINALIZER]);
    await kf().reporter.release('r1');
    await snapshotWhere('r1 gone', (s) => !has('r1')(s));
    expect(await getRoute('r1')).toBeUndefined();
  });

  it("removes the finalizer of a Node that no longer exists, so deletion does not hang", async () => {
    await cp().apply([routeObject('r2', spec)]);
    await snapshotWhere('r2', has('r2'));
    const gone = 'node-gone.nodes.kroute.dev/routes';
    const p = await cp().kubectl(['patch', 'route', 'r2', '--type=merge', '-p', JSON.stringify({ metadata: { finalizers: [gone] } })]);
    expect(p.code).toBe(0);
    expect((await cp().kubectl(['delete', 'node', 'node-gone'])).code).toBe(0);
    expect((await cp().kubectl(['delete', 'route', 'r2', '--wait=false'])).code).toBe(0);
    // Within a few seconds (settle 0.2 s, recheck 1 s here), not the 30 s sweep.
    await snapshotWhere('r2 gone', (s) => !has('r2')(s), 10_000);
    expect(await getRoute('r2')).toBeUndefined();
  });

  it('knows the API server addresses and whether it answers', async () => {
    const addrs = await kf().controlPlane.addresses();
    expect(addrs.length).toBeGreaterThan(0);
    expect(await kf().controlPlane.reachable(2000)).toBe(true);
  });

  it('recovers by itself after the API server is killed and started again', async () => {
    await cp().stopApiServer('SIGKILL');
    await until('disconnected', async () => (kf().source.connected ? undefined : true));
    expect(await kf().controlPlane.reachable(1000)).toBe(false);
    const before = snapshots.length;
    await cp().startApiServer();
    await cp().apply([routeObject('r3', spec)]);
    const s = await snapshotWhere('r3 after the restart', has('r3'), 60_000);
    expect(snapshots.length).toBeGreaterThan(before);
    expect(s.node.labels.pool).toBe('egress');
    await until('connected', async () => (kf().source.connected ? true : undefined));
  });
});
