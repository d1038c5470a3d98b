/** The Kubernetes face's adapters at their seams: the source over scripted informers, the reporter and housekeeping over a recording API stand-in. */
import type { SourceSnapshot } from '../../agent/ports.js';
import { silentLogger } from '../../agent/log.js';
import { Housekeeping } from '../../agent/kube/housekeeping.js';
import { KubeReporter } from '../../agent/kube/reporter.js';
import { KubeRouteSource } from '../../agent/kube/source.js';
import type { InformerLike } from '../../agent/kube/informer.js';
import { routeObj } from './kube-fixtures.js';
import { flush, ManualClock } from './manual-clock.js';

type Cb = (obj: never) => void;

/** An informer the test drives: emits events, fails, and records starts and stops. */
class ScriptedInformer implements InformerLike {
  starts = 0;
  stops = 0;
  /** Make the next start() report an error the way ListWatch does (through the error callback). */
  failNextStart: unknown;
  private readonly cbs: Record<string, ((x: never) => void)[]> = { add: [], update: [], delete: [], error: [], connect: [] };
  on(verb: 'add' | 'update' | 'delete' | 'error' | 'connect', cb: Cb | ((err?: unknown) => void)): void {
    this.cbs[verb].push(cb as Cb);
  }
  async start(): Promise<void> {
    this.starts++;
    if (this.failNextStart !== undefined) {
      const err = this.failNextStart;
      this.failNextStart = undefined;
      this.fire('error', err);
    }
  }
  async stop(): Promise<void> {
    this.stops++;
  }
  fire(verb: 'add' | 'update' | 'delete' | 'error', obj: unknown): void {
    for (const cb of this.cbs[verb]) (cb as (x: unknown) => void)(obj);
  }
}


/** A Node object with labels and a Ready condition. */
function nodeObj(name: string, o: { labels?: Record<string, string>; ready?: 'True' | 'False' | 'Unknown'; since?: string } = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: o.labels ?? {} },
    status: { conditions: [{ type: 'Ready', status: o.ready ?? 'True', lastTransitionTime: o.since ?? '2026-01-01T00:00:00Z' }] },
  };
}

/**
 * A recording stand-in for the API calls (labelled as such: it is not an API server). It keeps Routes in a map,
 * applies JSON patches of the kinds the agent sends, and merges server-side-apply bodies only as far as these
 * tests need; the real semantics are exercised in test/apiserver/kube-face.test.ts.
 */
class RecordingApi {
  calls: { op: string; name: string; body: unknown; manager?: string }[] = [];
  routes = new Map<string, Record<string, unknown>>();
  nodes: unknown[] = [];
  fail: ((op: string) => unknown) | undefined;
  private check(op: string): void {
    const err = this.fail?.(op);
    if (err) throw err;
  }
  private meta(name: string): Record<string, unknown> {
    const r = this.routes.get(name);
    if (!r) throw Object.assign(new Error('not found'), { code: 404 });
    return r.metadata as Record<string, unknown>;
  }
  async getRoute(name: string) {
    this.check('get');
    this.meta(name);
    return structuredClone(this.routes.get(name));
  }
  async applyRoute(name: string, body: Record<string, unknown>, manager: string) {
    this.calls.push({ op: 'applyRoute', name, body, manager });
    this.check('applyRoute');
    const m = this.meta(name);
    const want = ((body.metadata as Record<string, unknown>).finalizers as string[] | undefined) ?? [];
    const owned = `${manager}`;
    const fins = ((m.finalizers as string[] | undefined) ?? []).filter((f) => !f.startsWith(owned.replace('kroute-agent/', '')));
    m.finalizers = [...fins, ...want];
    return structuredClone(this.routes.get(name));
  }
  async applyRouteStatus(name: string, body: Record<string, unknown>, manager: string) {
    this.calls.push({ op: 'applyRouteStatus', name, body, manager });
    this.check('applyRouteStatus');
    this.meta(name);
    return {};
  }
  async jsonPatchRoute(name: string, ops: readonly { op: string; path: string; value?: unknown }[]) {
    this.calls.push({ op: 'jsonPatchRoute', name, body: ops });
    this.check('jsonPatchRoute');
    const m = this.meta(name);
    const fins = [...((m.finalizers as string[] | undefined) ?? [])];
    for (const o of ops) {
      const i = Number(o.path.split('/').pop());
      if (o.op === 'test' && fins[i] !== o.value) throw Object.assign(new Error('test failed'), { code: 422 });
      if (o.op === 'remove') fins.splice(i, 1);
    }
    m.finalizers = fins;
    return structuredClone(this.routes.get(name));
  }
  async jsonPatchRouteStatus(name: string, ops: unknown) {
    this.calls.push({ op: 'jsonPatchRouteStatus', name, body: ops });
    this.check('jsonPatchRouteStatus');
    return {};
  }
  async listNodes() {
    this.calls.push({ op: 'listNodes', name: '', body: undefined });
    this.check('listNodes');
    return this.nodes;
  }
  async createEvent(_ns: string, body: Record<string, unknown>) {
    this.calls.push({ op: 'createEvent', name: String((body.metadata as Record<string, unknown>).name), body });
    this.check('createEvent');
    return body;
  }
  async patchEvent(_ns: string, name: string, body: Record<string, unknown>) {
    this.calls.push({ op: 'patchEvent', name, body });
    this.check('patchEvent');
    return body;
  }
  ops(): string[] {
    return this.calls.map((c) => c.op);
  }
}

function setup(nodeName = 'n1') {
  const clock = new ManualClock();
  const routes = new ScriptedInformer();
  const node = new ScriptedInformer();
  const snapshots: SourceSnapshot[] = [];
  const source = new KubeRouteSource({ nodeName, routeInformer: routes, nodeInformer: node, log: silentLogger, clock, debounceMs: 100, random: () => 0 });
  const api = new RecordingApi();
  const reporter = new KubeReporter({ api, view: source, nodeName, log: silentLogger, clock, random: () => 0 });
  const housekeeping = new Housekeeping({ api, view: source, nodeName, log: silentLogger, clock, random: () => 0, settleSeconds: 1, sweepSeconds: 300, finalizerPolicy: { notReadyGraceMs: 60_000 } });
  return { clock, routes, node, snapshots, source, api, reporter, housekeeping, onChange: (s: SourceSnapshot) => snapshots.push(s) };
}

describe('the Kubernetes source, driven by scripted informers', () => {
  test('nothing is reported before both lists; then one debounced snapshot per burst of changes', async () => {
    const t = setup();
    await t.source.start(t.onChange);
    expect(t.source.synced).toBe(false); // no Node object yet
    t.routes.fire('add', routeObj('a'));
    await t.clock.advance(1000);
    expect(t.snapshots).toHaveLength(0);
    t.node.fire('add', nodeObj('n1', { labels: { pool: 'x' } }));
    expect(t.source.synced).toBe(true);
    expect(t.source.connected).toBe(true);
    await t.clock.advance(100);
    expect(t.snapshots).toHaveLength(1);
    expect(t.snapshots[0].routes.map((r) => r.name)).toEqual(['a']);
    expect(t.snapshots[0].node.labels).toEqual({ pool: 'x' });
    t.routes.fire('add', routeObj('b'));
    t.routes.fire('update', routeObj('b', { generation: 2 }));
    await t.clock.advance(100);
    expect(t.snapshots).toHaveLength(2);
    expect(t.snapshots[1].routes.map((r) => [r.name, r.generation])).toEqual([['a', 1], ['b', 2]]);
    await t.source.stop();
    expect(t.clock.pending()).toEqual([]);
  });

  test('without a debounce a change goes out at once; removals at most once per 200 ms (the first after quiet at once), and any other change takes them along', async () => {
    const clock = new ManualClock();
    const routes = new ScriptedInformer();
    const node = new ScriptedInformer();
    const snapshots: SourceSnapshot[] = [];
    const source = new KubeRouteSource({ nodeName: 'n1', routeInformer: routes, nodeInformer: node, log: silentLogger, clock });
    await source.start((s) => snapshots.push(s));
    node.fire('add', nodeObj('n1'));
    for (const n of ['a', 'b', 'c', 'd']) routes.fire('add', routeObj(n));
    await flush();
    const n0 = snapshots.length;
    expect(n0).toBeGreaterThanOrEqual(1);
    await clock.advance(1000); // a quiet spell
    // The first removal after it goes out at once.
    routes.fire('update', routeObj('a', { deleting: true }));
    await flush();
    expect(snapshots).toHaveLength(n0 + 1);
    expect(snapshots[n0].routes.find((r) => r.name === 'a')?.deleting).toBe(true);
    // A deletecollection marks Routes one by one: the marks of the next 200 ms are one snapshot, not one each.
    await clock.advance(50);
    routes.fire('update', routeObj('b', { deleting: true }));
    routes.fire('delete', routeObj('c'));
    await clock.advance(149);
    expect(snapshots).toHaveLength(n0 + 1);
    await clock.advance(1);
    expect(snapshots).toHaveLength(n0 + 2);
    expect(snapshots[n0 + 1].routes.map((r) => [r.name, r.deleting])).toEqual([['a', true], ['b', true], ['d', false]]);
    // A removal waiting when a new Route arrives goes out with it, at once.
    routes.fire('update', routeObj('d', { deleting: true }));
    routes.fire('add', routeObj('e'));
    await flush();
    expect(snapshots).toHaveLength(n0 + 3);
    expect(snapshots[n0 + 2].routes.map((r) => [r.name, r.deleting])).toEqual([['a', true], ['b', true], ['d', true], ['e', false]]);
    await clock.advance(1000);
    expect(snapshots).toHaveLength(n0 + 3);
    await source.stop();
    expect(clock.pending()).toEqual([]);
  });

  test('status-only writes from other nodes never produce a snapshot (N² watch events, no replans)', async () => {
    const t = setup();
    await t.source.start(t.onChange);
    t.node.fire('add', nodeObj('n1'));
    t.routes.fire('add', routeObj('a'));
    await t.clock.advance(100);
    const before = t.snapshots.length;
    const entries: unknown[] = [];
    for (let i = 0; i < 150; i++) {
      entries.push({ nodeName: `n${i}`, state: 'Applied', observedGeneration: 1 });
      t.routes.fire('update', routeObj('a', { status: { nodes: [...entries] } }));
    }
    await t.clock.advance(1000);
    expect(t.snapshots.length).toBe(before);
    expect(t.source.route('a')?.status?.nodes).toHaveLength(150);
    await t.source.stop();
  });

  test('under constant churn a snapshot still goes out within the max delay', async () => {
    const t = setup();
    await t.source.start(t.onChange);
    t.node.fire('add', nodeObj('n1'));
    await t.clock.advance(100);
    const n0 = t.snapshots.length;
    for (let i = 2; i < 40; i++) {
      t.routes.fire('update', routeObj('a', { generation: i }));
      await t.clock.advance(50);
    }
    expect(t.snapshots.length - n0).toBeGreaterThanOrEqual(1);
    await t.source.stop();
  });

  test('an informer error keeps the last snapshot, marks disconnected, and restarts with growing backoff', async () => {
    const t = setup();
    await t.source.start(t.onChange);
    t.node.fire('add', nodeObj('n1'));
    t.routes.fire('add', routeObj('a'));
    await t.clock.advance(100);
    const n0 = t.snapshots.length;
    t.routes.failNextStart = new Error('connect ECONNREFUSED');
    t.routes.fire('error', Object.assign(new Error('premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    expect(t.source.connected).toBe(false);
    expect(t.clock.pending()).toEqual([500]);
    await t.clock.advance(500); // restart 1 fails at once
    expect(t.routes.starts).toBe(2);
    expect(t.clock.pending()).toEqual([1000]);
    t.routes.failNextStart = new Error('connect ECONNREFUSED');
    await t.clock.advance(1000); // restart 2 fails
    expect(t.clock.pending()).toEqual([2000]);
    expect(t.snapshots.length).toBe(n0); // no "no routes" while failing
    expect(t.source.route('a')).toBeDefined();
    await t.clock.advance(2000); // restart 3 succeeds
    expect(t.routes.starts).toBe(4);
    expect(t.source.connected).toBe(true);
    t.routes.fire('update', routeObj('a', { generation: 5 }));
    await t.clock.advance(100);
    expect(t.snapshots.at(-1)?.routes[0].generation).toBe(5);
    // The next failure starts from the first delay again.
    t.routes.fire('error', new Error('again'));
    expect(t.clock.pending()).toEqual([500]);
    await t.source.stop();
    expect(t.clock.pending()).toEqual([]);
  });

  test('errors reported while stopping (the aborted watch) schedule nothing', async () => {
    const t = setup();
    await t.source.start(t.onChange);
    await t.source.stop();
    t.routes.fire('error', new Error('The user aborted a request.'));
    expect(t.clock.pending()).toEqual([]);
  });
});

describe('the Kubernetes reporter, against a recording API stand-in', () => {
  async function ready(t: ReturnType<typeof setup>, ...objs: Record<string, unknown>[]) {
    await t.source.start(t.onChange);
    t.node.fire('add', nodeObj('n1'));
    for (const o of objs) {
      t.routes.fire('add', o);
      t.api.routes.set(String((o.metadata as Record<string, unknown>).name), structuredClone(o));
    }
  }

  test("status writes this node's entry by apply, once per change", async () => {
    const t = setup();
    await ready(t, routeObj('a'));
    await t.reporter.status('a', { nodeName: 'ignored', state: 'Applied', observedGeneration: 1, activeGateways: ['10.0.0.1'] });
    await t.reporter.status('a', { nodeName: 'n1', state: 'Applied', observedGeneration: 1, activeGateways: ['10.0.0.1'] });
    await t.reporter.status('a', { nodeName: 'n1', state: 'Failed', reason: 'KernelError', observedGeneration: 1 });
    expect(t.api.ops()).toEqual(['applyRouteStatus', 'applyRouteStatus']);
    expect(t.api.calls[0].manager).toBe('kroute-agent/n1');
    expect(t.api.calls[0].body).toEqual({
      apiVersion: 'networking.doks.digitalocean.com/v1alpha1',
      kind: 'Route',
      metadata: { name: 'a' },
      status: { nodes: [{ nodeName: 'n1', state: 'Applied', observedGeneration: 1, activeGateways: ['10.0.0.1'] }] },
    });
    await t.source.stop();
  });

  test('after a restart, an entry the object already shows is not written again', async () => {
    const t = setup();
    const entry = { nodeName: 'n1', state: 'Applied', observedGeneration: 1 };
    await ready(t, routeObj('a', { status: { nodes: [entry] } }));
    await t.reporter.status('a', entry);
    expect(t.api.ops()).toEqual([]);
    await t.source.stop();
  });

  test('after a restart, a new lastTransitionTime alone is not written: the entry keeps the time of its state', async () => {
    const t = setup();
    const entry = { nodeName: 'n1', state: 'Applied', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' };
    await ready(t, routeObj('a', { status: { nodes: [entry] } }));
    await t.reporter.status('a', { ...entry, lastTransitionTime: '2026-02-02T00:00:00Z' });
    expect(t.api.ops()).toEqual([]);
    await t.reporter.status('a', { ...entry, state: 'Failed', lastTransitionTime: '2026-02-02T00:00:00Z' });
    expect(t.api.calls.map((c) => c.body)).toEqual([expect.objectContaining({ status: { nodes: [{ ...entry, state: 'Failed', lastTransitionTime: '2026-02-02T00:00:00Z' }] } })]);
    await t.source.stop();
  });

  test('a Route that does not select this node: no entry is written; an earlier one is removed by an empty apply, once', async () => {
    const t = setup();
    const notSelected = { nodeName: 'n1', state: 'NotSelected', reason: 'NodeNotSelected', message: 'no' };
    await ready(t, routeObj('never'), routeObj('was', { status: { nodes: [{ nodeName: 'n1', state: 'Applied' }, { nodeName: 'n2', state: 'Applied' }] } }));
    await t.reporter.clear('never', notSelected);
    await t.reporter.clear('never', notSelected);
    expect(t.api.ops()).toEqual([]);
    await t.reporter.clear('was', notSelected);
    await t.reporter.clear('was', notSelected);
    expect(t.api.calls).toEqual([{
      op: 'applyRouteStatus', name: 'was', manager: 'kroute-agent/n1',
      body: { apiVersion: 'networking.doks.digitalocean.com/v1alpha1', kind: 'Route', metadata: { name: 'was' }, status: { nodes: [] } },
    }]);
    // Selected again: the entry comes back.
    await t.reporter.status('was', { nodeName: 'n1', state: 'Applied' });
    expect(t.api.ops()).toEqual(['applyRouteStatus', 'applyRouteStatus']);
    await t.source.stop();
  });

  test('a failed status write is retried with backoff, re-decided from the latest request', async () => {
    const t = setup();
    await ready(t, routeObj('a'));
    let failing = true;
    t.api.fail = (op) => (failing && op === 'applyRouteStatus' ? Object.assign(new Error('unavailable'), { code: 503 }) : undefined);
    await t.reporter.status('a', { nodeName: 'n1', state: 'Applied' });
    expect(t.clock.pending()).toContain(500);
    await t.reporter.status('a', { nodeName: 'n1', state: 'Degraded' });
    failing = false;
    await t.clock.advance(1000);
    const last = t.api.calls.at(-1);
    expect(last?.op).toBe('applyRouteStatus');
    expect((last?.body as { status: { nodes: { state: string }[] } }).status.nodes[0].state).toBe('Degraded');
    const n = t.api.calls.length;
    await t.clock.advance(60_000);
    expect(t.api.calls.length).toBe(n);
    await t.source.stop();
  });

  test('hold applies this node\'s finalizer once; release removes it; a deleting Route gets no new finalizer', async () => {
    const t = setup();
    await ready(t, routeObj('a'), routeObj('gone', { deleting: true }));
    await t.reporter.hold('a');
    expect(t.api.calls[0]).toMatchObject({ op: 'applyRoute', manager: 'kroute-agent/n1', body: { metadata: { name: 'a', uid: 'uid-a', finalizers: ['n1.nodes.kroute.dev/routes'] } } });
    t.routes.fire('update', routeObj('a', { finalizers: ['n1.nodes.kroute.dev/routes'] }));
    await t.reporter.hold('a');
    expect(t.api.calls).toHaveLength(1);
    await t.reporter.hold('gone');
    expect(t.api.calls).toHaveLength(1);
    await t.reporter.release('a');
    expect(t.api.calls[1]).toMatchObject({ op: 'applyRoute', body: { metadata: { name: 'a', uid: 'uid-a' } } });
    expect(t.api.routes.get('a')?.metadata).toMatchObject({ finalizers: [] });
    await t.source.stop();
  });

  test('release falls back to a guarded JSON patch when the apply leaves the finalizer (owned elsewhere too)', async () => {
    const t = setup();
    const fins = ['x.io/keep', 'n1.nodes.kroute.dev/routes'];
    await ready(t, routeObj('a', { finalizers: fins }));
    // The stand-in's apply keeps finalizers not matching the manager; make it keep ours, as a co-owner would.
    t.api.applyRoute = async (name, body, manager) => {
      t.api.calls.push({ op: 'applyRoute', name, body, manager });
      return structuredClone(t.api.routes.get(name));
    };
    await t.reporter.release('a');
    expect(t.api.ops()).toEqual(['applyRoute', 'jsonPatchRoute']);
    expect(t.api.calls[1].body).toEqual([
      { op: 'test', path: '/metadata/finalizers/1', value: 'n1.nodes.kroute.dev/routes' },
      { op: 'remove', path: '/metadata/finalizers/1' },
    ]);
    expect(t.api.routes.get('a')?.metadata).toMatchObject({ finalizers: ['x.io/keep'] });
    await t.source.stop();
  });

  test('Events: one create, then throttled count patches', async () => {
    const t = setup();
    await ready(t, routeObj('a'));
    const e = { routeName: 'a', type: 'Warning' as const, reason: 'GatewayDown', message: 'gateway 10.0.0.1 down' };
    await t.reporter.event(e);
    await t.reporter.event(e);
    await t.clock.advance(31_000);
    await t.reporter.event(e);
    expect(t.api.ops()).toEqual(['createEvent', 'patchEvent']);
    expect(t.api.calls[1].body).toMatchObject({ count: 3 });
    await t.source.stop();
  });
});

describe('housekeeping: stale finalizers, stale entries, the summary writer', () => {
  test('finalizers of deleted Nodes are removed from a deleting Route; live nodes keep theirs', async () => {
    const t = setup();
    await t.source.start(t.onChange);
    t.node.fire('add', nodeObj('n1'));
    const fins = ['n1.nodes.kroute.dev/routes', 'n2.nodes.kroute.dev/routes', 'dead.nodes.kroute.dev/routes'];
    const r = routeObj('a', { deleting: true, finalizers: fins });
    t.routes.fire('add', r);
    t.api.routes.set('a', structuredClone(r));
    t.api.nodes = [nodeObj('n1'), nodeObj('n2')];
    await t.housekeeping.pass(true);
    expect(t.api.ops()).toEqual(['listNodes', 'jsonPatchRoute']);
    expect(t.api.routes.get('a')?.metadata).toMatchObject({ finalizers: fins.slice(0, 2) });
    await t.source.stop();
  });

  test('a failed test (someone else removed first) re-reads and recomputes', async () => {
    const t = setup();
    await t.source.start(t.onChange);
    t.node.fire('add', nodeObj('n1'));
    const fins = ['dead-a.nodes.kroute.dev/routes', 'dead-b.nodes.kroute.dev/routes'];
    t.routes.fire('add', routeObj('a', { deleting: true, finalizers: fins }));
    t.api.routes.set('a', routeObj('a', { deleting: true, finalizers: fins.slice(1) })); // the cache is behind
    t.api.nodes = [nodeObj('n1')];
    await t.housekeeping.pass(true);
    expect(t.api.ops()).toEqual(['listNodes', 'jsonPatchRoute', 'jsonPatchRoute']);
    expect(t.api.routes.get('a')?.metadata).toMatchObject({ finalizers: [] });
    await t.source.stop();
  });

  test('only the lowest-named Ready node among the entries writes the counts, once', async () => {
    for (const [me, writes] of [['n1', true], ['n2', false]] as const) {
      const t = setup(me);
      await t.source.start(t.onChange);
      t.node.fire('add', nodeObj(me));
      const status = { nodes: [{ nodeName: 'n2', state: 'Applied', observedGeneration: 1 }, { nodeName: 'n1', state: 'Applied', observedGeneration: 1 }, { nodeName: 'n0', state: 'Applied', observedGeneration: 1 }] };
      t.routes.fire('add', routeObj('a', { status }));
      t.api.routes.set('a', routeObj('a', { status }));
      t.api.nodes = [nodeObj('n0', { ready: 'False' }), nodeObj('n1'), nodeObj('n2')];
      await t.housekeeping.pass(true);
      const summary = t.api.calls.filter((c) => c.op === 'applyRouteStatus');
      expect(summary.length).toBe(writes ? 1 : 0);
      if (writes) {
        expect(summary[0].manager).toBe('kroute-agent/summary');
        expect(summary[0].body).toMatchObject({ status: { appliedNodes: 3, selectedNodes: 3, conditions: [{ type: 'Ready', status: 'True' }] } });
      }
      await t.source.stop();
    }
  });

  test('a Route with no entries (it selects no node) is summarized by the lowest-named Ready node: 0 nodes, NoNodes', async () => {
    for (const [me, writes] of [['n1', true], ['n2', false]] as const) {
      const t = setup(me);
      await t.source.start(t.onChange);
      t.node.fire('add', nodeObj(me));
      const status = { appliedNodes: 2, selectedNodes: 2, conditions: [{ type: 'Ready', status: 'True', reason: 'Applied', message: 'applied on 2 of 2 selected nodes', lastTransitionTime: 'T0', observedGeneration: 1 }] };
      t.routes.fire('add', routeObj('a', { status }));
      t.api.routes.set('a', routeObj('a', { status }));
      t.api.nodes = [nodeObj('n0', { ready: 'False' }), nodeObj('n1'), nodeObj('n2')];
      await t.housekeeping.pass(true);
      const summary = t.api.calls.filter((c) => c.op === 'applyRouteStatus');
      expect(summary.length).toBe(writes ? 1 : 0);
      if (writes) expect(summary[0].body).toMatchObject({ status: { appliedNodes: 0, selectedNodes: 0, conditions: [{ type: 'Ready', status: 'False', reason: 'NoNodes' }] } });
      await t.source.stop();
    }
  });

  test('the writer first removes entries of nodes that no longer exist', async () => {
    const t = setup();
    await t.source.start(t.onChange);
    t.node.fire('add', nodeObj('n1'));
    const status = { nodes: [{ nodeName: 'n1', state: 'Applied' }, { nodeName: 'old', state: 'Applied' }] };
    t.routes.fire('add', routeObj('a', { status }));
    t.api.routes.set('a', routeObj('a', { status }));
    t.api.nodes = [nodeObj('n1')];
    await t.housekeeping.pass(true);
    expect(t.api.ops()).toEqual(['listNodes', 'jsonPatchRouteStatus']);
    expect(t.api.calls[1].body).toEqual([
      { op: 'test', path: '/status/nodes/1/nodeName', value: 'old' },
      { op: 'remove', path: '/status/nodes/1' },
    ]);
    await t.source.stop();
  });
});

/**
 * The N² question at scale, measured at the seams (no API server): N agents, one Route; each agent applies its
 * entry once; the stand-in server merges it and sends the updated object to every agent's Route informer, as
 * the API server's watch would. Counts are exact; times are this machine's. Written up in docs/status.md.
 */
describe('status at scale (seam-level simulation)', () => {
  async function rollout(n: number) {
    const clock = new ManualClock();
    const server = routeObj('r', { status: { nodes: [] } });
    const entries = (server.status as { nodes: unknown[] }).nodes;
    const agents = Array.from({ length: n }, (_, i) => {
      const name = `node-${String(i).padStart(4, '0')}`;
      const routes = new ScriptedInformer();
      const node = new ScriptedInformer();
      let replans = 0;
      const source = new KubeRouteSource({ nodeName: name, routeInformer: routes, nodeInformer: node, log: silentLogger, clock, debounceMs: 100 });
      return { name, routes, node, source, replans: () => replans, onChange: () => replans++, reporter: undefined as KubeReporter | undefined };
    });
    let events = 0;
    let bytes = 0;
    let parseMs = 0;
    const broadcast = () => {
      const json = JSON.stringify(server);
      for (const a of agents) {
        const t0 = performance.now();
        const obj = JSON.parse(json) as unknown; // what each agent's watch decodes
        parseMs += performance.now() - t0;
        a.routes.fire('update', obj);
        events++;
        bytes += json.length;
      }
    };
    const api = {
      async applyRouteStatus(_name: string, body: Record<string, unknown>) {
        const e = (body.status as { nodes: { nodeName: string }[] }).nodes[0];
        const i = entries.findIndex((x) => (x as { nodeName: string }).nodeName === e.nodeName);
        if (i >= 0) entries[i] = e;
        else entries.push(e);
        broadcast();
        return {};
      },
    } as unknown as ConstructorParameters<typeof KubeReporter>[0]['api'];
    for (const a of agents) {
      await a.source.start(a.onChange);
      a.node.fire('add', nodeObj(a.name));
      a.routes.fire('add', JSON.parse(JSON.stringify(server)));
      a.reporter = new KubeReporter({ api, view: a.source, nodeName: a.name, log: silentLogger, clock });
    }
    await clock.advance(100);
    const replansAtCreate = agents.reduce((s, a) => s + a.replans(), 0);
    for (const a of agents) await a.reporter?.status('r', { nodeName: a.name, state: 'Applied', observedGeneration: 1 });
    await clock.advance(1000);
    // Every agent again reports the same: nothing is written.
    for (const a of agents) await a.reporter?.status('r', { nodeName: a.name, state: 'Applied', observedGeneration: 1 });
    const writes = agents.reduce((s, a) => s + (a.reporter?.writes ?? 0), 0);
    const replansAfter = agents.reduce((s, a) => s + a.replans(), 0) - replansAtCreate;
    for (const a of agents) await a.source.stop();
    return { n, writes, events, replansAtCreate, replansAfter, mb: bytes / 1e6, finalObjectKb: JSON.stringify(server).length / 1e3, parseMsPerAgent: parseMs / n };
  }

  test('100 and 300 nodes: N writes, N² watch events, no replan from any of them', async () => {
    const rows = [];
    for (const n of [100, 300]) {
      const r = await rollout(n);
      expect(r.writes).toBe(n);
      expect(r.events).toBe(n * n);
      expect(r.replansAtCreate).toBe(n);
      expect(r.replansAfter).toBe(0);
      rows.push(r);
    }
    // Printed for docs/status.md.
    console.log(rows.map((r) => `N=${r.n}: writes=${r.writes} watch events=${r.events} replans from status=${r.replansAfter} bytes sent=${r.mb.toFixed(1)} MB final object=${r.finalObjectKb.toFixed(1)} kB decode per agent=${r.parseMsPerAgent.toFixed(1)} ms`).join('\n'));
  });
});
