/** The pure decisions of per-node reporting (core/route-report.ts): merge patches, the summary, the finalizer rule. */
import {
  agentLive, entriesFor, finalizerAction, finalizerRemovePatch, nodeLeaseBody, nodeLeaseName, reportCounts, reportEntryOf, reportMergePatch,
  ROUTE_FINALIZER, routeReportCrd, summarizeRoute, SUMMARY_NODES_MAX, type NodeEntry, type NodeLiveness, type RouteFacts, type RouteReport,
} from '../../core/index.js';

const live: NodeLiveness = { exists: true, live: true, expiresAtMs: 50_000 };
const dead: NodeLiveness = { exists: true, live: false };
const route = (o: Partial<RouteFacts> = {}): RouteFacts => ({ name: 'r', uid: 'u1', generation: 2, deleting: false, finalizers: [ROUTE_FINALIZER], ...o });
const at = (nodeName: string, state: string, node: NodeLiveness = live, observedGeneration = 2): NodeEntry => ({ nodeName, node, entry: { uid: 'u1', state, observedGeneration } });
const NOW = '2026-12-01T10:00:00.000Z';

describe('report merge patches', () => {
  it('send only what changed: new and changed entries in full, removed ones as null, and the new counts', () => {
    const a = { state: 'Applied', observedGeneration: 1 };
    const patch = reportMergePatch({ x: a, y: a, z: a }, { x: a, y: { ...a, state: 'Failed' }, w: a });
    expect(patch).toEqual({ status: { routes: { y: { state: 'Failed', observedGeneration: 1 }, z: null, w: a }, counts: { routes: 3, applied: 2, problems: 1 } } });
  });
  it('are undefined when nothing changed (activeGateways compared as a set)', () => {
    expect(reportMergePatch({ x: { state: 'Applied', activeGateways: ['b', 'a'] } }, { x: { state: 'Applied', activeGateways: ['a', 'b'] } })).toBeUndefined();
  });
  it('carry an entry built from the reconciler\'s status without its node name, with the Route uid', () => {
    expect(reportEntryOf({ nodeName: 'n', state: 'Applied', reason: 'Programmed', activeGateways: ['10.0.0.2', '10.0.0.1'], observedGeneration: 3, lastTransitionTime: NOW }, 'u'))
      .toEqual({ uid: 'u', state: 'Applied', reason: 'Programmed', activeGateways: ['10.0.0.1', '10.0.0.2'], observedGeneration: 3, since: NOW });
    expect(reportCounts({ a: { state: 'Applied' }, b: { state: 'Removing' }, c: { state: 'Invalid' } })).toEqual({ routes: 3, applied: 1, problems: 1 });
  });
});

describe('the Route summary', () => {
  it.each([
    ['every node applied at this generation', [at('a', 'Applied'), at('b', 'Applied')], 'True', 'Applied', 2, 'applied on 2 of 2 nodes'],
    ['one node degraded', [at('a', 'Applied'), at('b', 'Degraded')], 'True', 'Degraded', 2, 'applied on 2 of 2 nodes; gateways down on b'],
    ['one node at an older generation', [at('a', 'Applied'), at('b', 'Applied', live, 1)], 'False', 'Progressing', 1, 'not yet applied on b'],
    ['one agent without heartbeat', [at('a', 'Applied'), at('b', 'Applied', dead)], 'False', 'AgentDown', 1, 'no heartbeat from the agent on b'],
    ['a failure beats a dead agent', [at('a', 'Failed'), at('b', 'Applied', dead)], 'False', 'Failed', 0, 'failed on a'],
    ['no node reports it', [], 'False', 'NoNodes', 0, 'no node reports the route'],
  ] as const)('%s', (_what, entries, status, reason, applied, message) => {
    const s = summarizeRoute(route(), entries, NOW);
    expect(s.ready).toMatchObject({ type: 'Ready', status, reason, message, observedGeneration: 2, lastTransitionTime: NOW });
    expect(s.appliedNodes).toBe(applied);
    expect(s.selectedNodes).toBe(entries.length);
  });
  it('keeps the transition time while the status stays, and lists at most 20 nodes that are not done', () => {
    const many = Array.from({ length: 300 }, (_, i) => at(`n${String(i).padStart(3, '0')}`, 'Applied', live, 1));
    const s = summarizeRoute(route({ ready: { status: 'False', reason: 'Progressing', lastTransitionTime: '2026-01-01T00:00:00Z' } }), many, NOW);
    expect(s.ready.lastTransitionTime).toBe('2026-01-01T00:00:00Z');
    expect(s.ready.message).toBe('not yet applied on n000, n001, n002, n003, n004 and 295 more');
    expect(s.nodes).toHaveLength(SUMMARY_NODES_MAX);
    const down = summarizeRoute(route(), [at('b', 'Applied', dead)], NOW).nodes;
    expect(down).toEqual([{ nodeName: 'b', state: 'Applied', reason: 'AgentDown', message: 'no heartbeat from the agent; last reported state', observedGeneration: 2 }]);
  });
  it('reads entries of this Route only: another uid is an older namesake, a Node that is gone is left out', () => {
    const reports: RouteReport[] = [
      { nodeName: 'a', routes: { r: { uid: 'u1', state: 'Applied' } } },
      { nodeName: 'b', routes: { r: { uid: 'old', state: 'Applied' } } },
      { nodeName: 'c', routes: { r: { uid: 'u1', state: 'Applied' } } },
      { nodeName: 'd', routes: { other: { state: 'Applied' } } },
    ];
    const liveness = (n: string): NodeLiveness => (n === 'c' ? { exists: false, live: false } : live);
    expect(entriesFor(route(), reports, liveness).map((e) => e.nodeName)).toEqual(['a']);
  });
});

describe('the finalizer rule', () => {
  it('adds the finalizer to a Route without it, and leaves a held one alone', () => {
    expect(finalizerAction(route({ finalizers: [] }), [])).toEqual({ kind: 'add' });
    expect(finalizerAction(route(), [at('a', 'Applied')])).toEqual({ kind: 'none' });
  });
  it('waits for live agents that still report the Route, until the first of them would expire', () => {
    expect(finalizerAction(route({ deleting: true }), [at('a', 'Removing'), at('b', 'Applied', { exists: true, live: true, expiresAtMs: 20_000 })]))
      .toEqual({ kind: 'wait', on: ['a', 'b'], recheckAtMs: 20_000 });
  });
  it('releases once no live agent reports it; dead agents are not waited for', () => {
    expect(finalizerAction(route({ deleting: true }), [])).toEqual({ kind: 'release', skipped: [] });
    expect(finalizerAction(route({ deleting: true }), [at('b', 'Applied', dead)])).toEqual({ kind: 'release', skipped: ['b'] });
    expect(finalizerAction(route({ deleting: true, finalizers: ['other/x'] }), [])).toEqual({ kind: 'none' });
  });
  it('removes only its own finalizer, guarded by a test at its index', () => {
    expect(finalizerRemovePatch(['a/b', ROUTE_FINALIZER])).toEqual([{ op: 'test', path: '/metadata/finalizers/1', value: ROUTE_FINALIZER }, { op: 'remove', path: '/metadata/finalizers/1' }]);
    expect(finalizerRemovePatch(['a/b'])).toEqual([]);
  });
});

describe('heartbeats and the CRD', () => {
  it('counts an agent live while its Lease was seen renewed within the duration, on the observer\'s clock', () => {
    expect(agentLive(1000, 40, 40_999)).toBe(true);
    expect(agentLive(1000, 40, 41_000)).toBe(false);
    expect(agentLive(undefined, 40, 0)).toBe(false);
  });
  it('names the Lease after the node, owned by its Node; refuses a name too long for it', () => {
    expect(nodeLeaseBody('kube-system', 'n1', 'uid-1', '2026-12-01T10:00:00.000000Z')).toMatchObject({
      metadata: { name: 'kroute-node-n1', namespace: 'kube-system', ownerReferences: [{ kind: 'Node', name: 'n1', uid: 'uid-1' }] },
      spec: { holderIdentity: 'n1', leaseDurationSeconds: 40 },
    });
    expect(nodeLeaseName('x'.repeat(250))).toBeUndefined();
    expect(() => nodeLeaseBody('kube-system', 'x'.repeat(250), undefined, NOW)).toThrow(/too long for a heartbeat Lease/);
  });
  it('declares a cluster-scoped RouteReport with its printer columns', () => {
    const crd = routeReportCrd() as unknown as { spec: { scope: string; versions: { additionalPrinterColumns: { name: string }[] }[] } };
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.versions[0]?.additionalPrinterColumns.map((c) => c.name)).toEqual(['Routes', 'Applied', 'Problems', 'Age']);
  });
});
