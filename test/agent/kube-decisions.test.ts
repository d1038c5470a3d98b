/** The Kubernetes face's pure decisions: backoff, snapshots, status bodies and summary, finalizers, Events. */
import { backoffDelayMs, DEFAULT_BACKOFF } from '../../agent/kube/backoff.js';
import { endpointAddresses, serverAddress } from '../../agent/kube/control-plane.js';
import { decideEvent } from '../../agent/kube/events.js';
import { holdApplyBody, isNodeFinalizer, nodeFinalizer, releaseApplyBody, removeFinalizersPatch, staleFinalizers } from '../../agent/kube/finalizers.js';
import { readNode, readRoute, type RouteObject } from '../../agent/kube/objects.js';
import { buildSnapshot, foldNodeEvent, foldRouteEvent, planRelevant, type CachedRoute } from '../../agent/kube/snapshot.js';
import { routeObj } from './kube-fixtures.js';
import { agentFieldManager, nodeEntryApplyBody, readyNodeNames, sameEntry, staleEntriesPatch, summarize, summaryApplyBody, summaryShown, summaryWriter } from '../../agent/kube/status.js';


/** A Node object with labels and a Ready condition. */
export function nodeObj(name: string, o: { labels?: Record<string, string>; ready?: 'True' | 'False' | 'Unknown'; since?: string } = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: o.labels ?? {} },
    status: { conditions: [{ type: 'Ready', status: o.ready ?? 'True', lastTransitionTime: o.since ?? '2026-01-01T00:00:00Z' }] },
  };
}

const route = (o: Parameters<typeof routeObj>[1] & { name?: string } = {}): RouteObject => {
  const r = readRoute(routeObj(o.name ?? 'r1', o));
  if (!r) throw new Error('unreadable test route');
  return r;
};

describe('informer restart backoff', () => {
  test('grows exponentially from 0.5 s and is capped at 30 s', () => {
    const none = () => 0;
    expect([0, 1, 2, 3, 4, 5, 6, 7, 20, 1000].map((a) => backoffDelayMs(a, DEFAULT_BACKOFF, none))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000,
    ]);
  });
  test('jitter only shortens, by at most the jitter fraction', () => {
    for (const r of [0, 0.3, 0.999]) {
      const d = backoffDelayMs(10, DEFAULT_BACKOFF, () => r);
      expect(d).toBeLessThanOrEqual(30000);
      expect(d).toBeGreaterThanOrEqual(30000 * (1 - DEFAULT_BACKOFF.jitter));
    }
    expect(backoffDelayMs(10, DEFAULT_BACKOFF, () => 0.5)).toBe(27000);
  });
});

describe('snapshots from informer events', () => {
  test('add, update and delete reach the snapshot, sorted, with deleting from deletionTimestamp', () => {
    let m: ReadonlyMap<string, CachedRoute> = new Map();
    for (const ev of [
      { kind: 'add' as const, object: routeObj('b') },
      { kind: 'add' as const, object: routeObj('a') },
      { kind: 'update' as const, object: routeObj('b', { generation: 1, deleting: true }) },
    ]) {
      const f = foldRouteEvent(m, ev);
      expect(f.replan).toBe(true);
      m = f.state;
    }
    const node = readNode(nodeObj('n1', { labels: { pool: 'egress' } }));
    const s = buildSnapshot(m, node, 'n1');
    expect(s.routes.map((r) => [r.name, r.deleting, r.generation])).toEqual([
      ['a', false, 1],
      ['b', true, 1],
    ]);
    expect(s.node).toEqual({ name: 'n1', labels: { pool: 'egress' } });
    expect(s.routes[0].object).toEqual(routeObj('a'));
    const del = foldRouteEvent(m, { kind: 'delete', object: routeObj('a') });
    expect(del.replan).toBe(true);
    expect(buildSnapshot(del.state, node, 'n1').routes.map((r) => r.name)).toEqual(['b']);
  });

  test('a status-only write (generation unchanged) updates the cache but asks for no replan', () => {
    const m = foldRouteEvent(new Map(), { kind: 'add', object: routeObj('r') }).state;
    const withStatus = routeObj('r', { status: { nodes: [{ nodeName: 'n2', state: 'Applied' }] } });
    const f = foldRouteEvent(m, { kind: 'update', object: withStatus });
    expect(f.replan).toBe(false);
    expect(f.state.get('r')?.route.status?.nodes?.[0].nodeName).toBe('n2');
    expect(foldRouteEvent(m, { kind: 'update', object: routeObj('r', { finalizers: ['n2.nodes.kroute.dev/routes'] }) }).replan).toBe(false);
    expect(foldRouteEvent(m, { kind: 'update', object: routeObj('r', { generation: 2 }) }).replan).toBe(true);
  });

  test('a recreated namesake (new uid) is a change; a stale delete of an older incarnation is not', () => {
    const m = foldRouteEvent(new Map(), { kind: 'add', object: routeObj('r', { uid: 'new' }) }).state;
    expect(planRelevant(route({ name: 'r', uid: 'old' }), route({ name: 'r', uid: 'new' }))).toBe(true);
    const f = foldRouteEvent(m, { kind: 'delete', object: routeObj('r', { uid: 'old' }) });
    expect(f.replan).toBe(false);
    expect(f.state.has('r')).toBe(true);
  });

  test('objects without generation compare their spec', () => {
    const a = readRoute({ metadata: { name: 'x' }, spec: { gateways: ['1.1.1.1'] } });
    const b = readRoute({ metadata: { name: 'x' }, spec: { gateways: ['1.1.1.2'] } });
    expect(planRelevant(a, b)).toBe(true);
    expect(planRelevant(a, a)).toBe(false);
  });

  test("the node's labels matter, its status does not, and a Node delete keeps the last facts", () => {
    const n1 = foldNodeEvent(undefined, { kind: 'add', object: nodeObj('n1', { labels: { a: '1' } }) }, 'n1');
    expect(n1.replan).toBe(true);
    expect(foldNodeEvent(n1.state, { kind: 'update', object: nodeObj('n1', { labels: { a: '1' }, ready: 'False' }) }, 'n1').replan).toBe(false);
    expect(foldNodeEvent(n1.state, { kind: 'update', object: nodeObj('n1', { labels: { a: '2' } }) }, 'n1').replan).toBe(true);
    const gone = foldNodeEvent(n1.state, { kind: 'delete', object: nodeObj('n1') }, 'n1');
    expect(gone.replan).toBe(false);
    expect(gone.state?.metadata.labels).toEqual({ a: '1' });
    expect(foldNodeEvent(n1.state, { kind: 'update', object: nodeObj('other', { labels: {} }) }, 'n1').state).toBe(n1.state);
  });
});

describe('status: one entry per node by server-side apply', () => {
  test("the apply body holds only this node's entry, without undefined fields", () => {
    const body = nodeEntryApplyBody('r1', { nodeName: 'n1', state: 'Applied', activeGateways: ['10.0.0.1'], observedGeneration: 3, reason: undefined });
    expect(body).toEqual({
      apiVersion: 'networking.doks.digitalocean.com/v1alpha1',
      kind: 'Route',
      metadata: { name: 'r1' },
      status: { nodes: [{ nodeName: 'n1', state: 'Applied', activeGateways: ['10.0.0.1'], observedGeneration: 3 }] },
    });
  });
  test('field managers are per node and at most 128 characters', () => {
    expect(agentFieldManager('node-a')).toBe('kroute-agent/node-a');
    const long = 'n'.repeat(250);
    expect(agentFieldManager(long).length).toBe(128);
    expect(agentFieldManager(long)).not.toBe(agentFieldManager(`${'n'.repeat(249)}m`));
  });
  test('entries compare as values; gateway order does not matter', () => {
    expect(sameEntry({ nodeName: 'n', state: 'Applied', activeGateways: ['a', 'b'] }, { nodeName: 'n', state: 'Applied', activeGateways: ['b', 'a'] })).toBe(true);
    expect(sameEntry({ nodeName: 'n', state: 'Applied' }, { nodeName: 'n', state: 'Failed' })).toBe(false);
    expect(sameEntry({ nodeName: 'n', state: 'Applied', reason: undefined }, { nodeName: 'n', state: 'Applied' })).toBe(true);
  });
});

describe('status summary: counts with one writer', () => {
  const entries = [
    { nodeName: 'n1', state: 'Applied', observedGeneration: 2 },
    { nodeName: 'n2', state: 'Degraded', observedGeneration: 2 },
    { nodeName: 'n3', state: 'NotSelected', observedGeneration: 2 },
    { nodeName: 'n4', state: 'Applied', observedGeneration: 1 },
  ];
  test('selected excludes NotSelected; applied counts Applied and Degraded at the current generation', () => {
    const s = summarize(route({ generation: 2, status: { nodes: entries } }), '2026-01-01T00:00:00.000Z');
    expect([s.appliedNodes, s.selectedNodes]).toEqual([2, 3]);
    expect(s.ready).toMatchObject({ type: 'Ready', status: 'False', reason: 'Progressing', observedGeneration: 2 });
    expect(s.ready.message).toContain('n4');
  });
  test('Ready is True when every selected node applied; Failed and Invalid say False with the nodes', () => {
    const ok = summarize(route({ generation: 2, status: { nodes: entries.slice(0, 3) } }), 't');
    expect(ok.ready).toMatchObject({ status: 'True', reason: 'Degraded' });
    const failed = summarize(route({ generation: 2, status: { nodes: [...entries.slice(0, 2), { nodeName: 'n9', state: 'Failed', observedGeneration: 2 }] } }), 't');
    expect(failed.ready).toMatchObject({ status: 'False', reason: 'Failed', message: 'failed on n9' });
    expect(summarize(route({ status: { nodes: [] } }), 't').ready.reason).toBe('NoNodes');
  });
  test('an unchanged Ready keeps its lastTransitionTime, and a shown summary is not written again', () => {
    const r0 = route({ generation: 2, status: { nodes: entries.slice(0, 1) } });
    const s0 = summarize(r0, 'T0');
    const body = summaryApplyBody('r1', s0);
    expect(body.status).toEqual({ appliedNodes: 1, selectedNodes: 1, conditions: [s0.ready] });
    const r1 = route({ generation: 2, status: { ...(body.status as object), nodes: entries.slice(0, 1) } });
    const s1 = summarize(r1, 'T1');
    expect(s1.ready.lastTransitionTime).toBe('T0');
    expect(summaryShown(r1, s1)).toBe(true);
    expect(summaryShown(r0, s0)).toBe(false);
  });
  test('the writer is the lowest-named Ready node among the entries', () => {
    const ready = readyNodeNames([readNode(nodeObj('n1', { ready: 'False' })), readNode(nodeObj('n2')), readNode(nodeObj('n3'))].filter((n) => n !== undefined));
    const r = route({ status: { nodes: entries } });
    expect(summaryWriter(r, ready)).toBe('n2');
    expect(summaryWriter(route({ status: { nodes: [] } }), ready)).toBeUndefined();
  });
  test('entries of nodes that no longer exist are removed, guarded, last index first', () => {
    const r = route({ status: { nodes: entries } });
    expect(staleEntriesPatch(r, new Set(['n1', 'n3']))).toEqual([
      { op: 'test', path: '/status/nodes/3/nodeName', value: 'n4' },
      { op: 'remove', path: '/status/nodes/3' },
      { op: 'test', path: '/status/nodes/1/nodeName', value: 'n2' },
      { op: 'remove', path: '/status/nodes/1' },
    ]);
    expect(staleEntriesPatch(r, new Set(['n1', 'n2', 'n3', 'n4']))).toEqual([]);
  });
});

describe('finalizers: one per node', () => {
  test('names are <node>.nodes.kroute.dev/routes; too-long node names are hashed', () => {
    expect(nodeFinalizer('pool-a-1x2y3')).toBe('pool-a-1x2y3.nodes.kroute.dev/routes');
    const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}`;
    const f = nodeFinalizer(long);
    expect(f.split('/')[0].length).toBeLessThanOrEqual(253);
    expect(isNodeFinalizer(f)).toBe(true);
    expect(isNodeFinalizer('kubernetes.io/pv-protection')).toBe(false);
    expect(isNodeFinalizer('.nodes.kroute.dev/routes')).toBe(false);
  });
  test('hold applies only this node\'s finalizer with the uid; release applies none', () => {
    expect(holdApplyBody('r1', 'u1', 'n1')).toEqual({
      apiVersion: 'networking.doks.digitalocean.com/v1alpha1',
      kind: 'Route',
      metadata: { name: 'r1', uid: 'u1', finalizers: ['n1.nodes.kroute.dev/routes'] },
    });
    expect(releaseApplyBody('r1', 'u1')).toEqual({ apiVersion: 'networking.doks.digitalocean.com/v1alpha1', kind: 'Route', metadata: { name: 'r1', uid: 'u1' } });
  });
  const now = Date.parse('2026-01-01T00:10:00Z');
  const nodes = [
    nodeObj('alive'),
    nodeObj('down-long', { ready: 'Unknown', since: '2026-01-01T00:00:00Z' }),
    nodeObj('down-brief', { ready: 'False', since: '2026-01-01T00:09:30Z' }),
  ].map((n) => readNode(n)).filter((n) => n !== undefined);
  const fins = ['other.io/keep', nodeFinalizer('alive'), nodeFinalizer('gone'), nodeFinalizer('down-long'), nodeFinalizer('down-brief')];
  test('stale: Node gone, or NotReady past the grace; a brief NotReady is rechecked when its grace ends', () => {
    const v = staleFinalizers(fins, nodes, now, { notReadyGraceMs: 60_000 });
    expect(v.stale.map((s) => s.finalizer)).toEqual([nodeFinalizer('gone'), nodeFinalizer('down-long')]);
    expect(v.stale[0].reason).toBe('node does not exist');
    expect(v.recheckInMs).toBe(30_000);
    expect(staleFinalizers([nodeFinalizer('alive')], nodes, now).recheckInMs).toBeUndefined();
  });
  test('removal is a JSON patch testing each item at its index, last first; other finalizers untouched', () => {
    expect(removeFinalizersPatch(fins, [nodeFinalizer('gone'), nodeFinalizer('down-long')])).toEqual([
      { op: 'test', path: '/metadata/finalizers/3', value: nodeFinalizer('down-long') },
      { op: 'remove', path: '/metadata/finalizers/3' },
      { op: 'test', path: '/metadata/finalizers/2', value: nodeFinalizer('gone') },
      { op: 'remove', path: '/metadata/finalizers/2' },
    ]);
    expect(removeFinalizersPatch(fins, [])).toEqual([]);
  });
});

describe('Events: repeats aggregate', () => {
  const e = { routeName: 'r1', type: 'Warning' as const, reason: 'GatewayDown', message: 'gateway 10.0.0.1 stopped answering' };
  const ctx = (nowMs: number) => ({ nodeName: 'n1', routeUid: 'u1', nowMs });
  test('the first occurrence creates a core/v1 Event about the Route, reported by the node', () => {
    const d = decideEvent(undefined, e, ctx(1000));
    expect(d.action.kind).toBe('create');
    if (d.action.kind !== 'create') return;
    expect(d.action.body).toMatchObject({
      metadata: { namespace: 'default' },
      involvedObject: { kind: 'Route', name: 'r1', uid: 'u1', apiVersion: 'networking.doks.digitalocean.com/v1alpha1' },
      type: 'Warning',
      reason: 'GatewayDown',
      count: 1,
      reportingComponent: 'kroute.dev/agent',
      reportingInstance: 'n1',
      source: { component: 'kroute-agent', host: 'n1' },
    });
  });
  test('repeats within the window patch count and lastTimestamp, throttled; after the window a new Event', () => {
    const d0 = decideEvent(undefined, e, ctx(0));
    const d1 = decideEvent(d0.record, e, ctx(10_000));
    expect(d1.action.kind).toBe('skip');
    const d2 = decideEvent(d1.record, e, ctx(40_000));
    expect(d2.action).toEqual({ kind: 'patch', name: d0.record.name, body: { count: 3, lastTimestamp: new Date(40_000).toISOString() } });
    const d3 = decideEvent(d2.record, e, ctx(40_000 + 600_000));
    expect(d3.action.kind).toBe('create');
    expect(d3.record.name).not.toBe(d0.record.name);
  });
});

describe('control plane addresses', () => {
  test('the kubernetes Endpoints addresses, deduplicated; the kubeconfig server only when it is an IP', () => {
    expect(endpointAddresses({ subsets: [{ addresses: [{ ip: '10.0.0.5' }, { ip: '10.0.0.6' }] }, { addresses: [{ ip: '10.0.0.5' }, { ip: 'nope' }] }] })).toEqual(['10.0.0.5', '10.0.0.6']);
    expect(endpointAddresses({})).toEqual([]);
    expect(serverAddress('https://10.1.2.3:6443')).toEqual(['10.1.2.3']);
    expect(serverAddress('https://[fd00::1]:443')).toEqual(['fd00::1']);
    expect(serverAddress('https://abc.k8s.ondigitalocean.com')).toEqual([]);
    expect(serverAddress(undefined)).toEqual([]);
  });
});
