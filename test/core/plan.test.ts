/**
 * The planner: a behaviour table (given these Routes and this node, the kernel should hold these routes) and
 * fast-check properties (deterministic, order-free, always owned, invalid Routes never block valid ones, applying a
 * plan twice changes nothing the second time).
 */
import fc from 'fast-check';
import { routeObject, validateRoute, type NodeSelector, type NormalizedRoute, type Result, type RouteSpec } from '../../core/index.js';
import { DEFAULT_OWNERSHIP, FORWARD_PROBE, plan, PlanMemo, type DesiredRoute, type HostFacts, type PlanConfig, type PlanInput, type PlanRouteInput } from '../../core/plan/index.js';
import { diffKernel, type KernelOp } from '../../agent/kernel/diff.js';
import { sortHops, type KernelRoute, type KernelRule, type KernelState } from '../../agent/kernel/state.js';

const CONFIG: PlanConfig = { ownership: DEFAULT_OWNERSHIP, symmetricRouting: true, overrideFailMode: 'closed' };
const HOST: HostFacts = {
  defaultV4: { gateway: '203.0.113.1', dev: 'eth0' },
  defaultV6: { gateway: '2001:db8:ff::1', dev: 'eth0' },
  publicInterface: { name: 'eth0', addresses: ['203.0.113.10', '2001:db8:ff::10'], gatewayV4: '203.0.113.1', gatewayV6: '2001:db8:ff::1' },
  dnsServers: ['67.207.67.2', '127.0.0.53'],
  controlPlaneAddresses: ['198.18.0.1'],
  keepAddresses: ['169.254.169.254'],
};
const NODE = { name: 'pool-egress-1', labels: { 'doks.digitalocean.com/node-pool': 'egress' } };
const pool = (name: string): NodeSelector => ({
  nodeSelectorTerms: [{ matchExpressions: [{ key: 'doks.digitalocean.com/node-pool', operator: 'In', values: [name] }] }],
});
const route = (name: string, spec: RouteSpec, deleting = false): PlanRouteInput => ({ name, object: routeObject(name, spec), deleting });
const input = (routes: PlanRouteInput[], over: Partial<PlanInput> = {}): PlanInput => ({
  routes, node: NODE, host: HOST, gatewaysDown: new Set(), config: CONFIG, ...over,
});
/** `dst → sorted gateways` of main-table routes, for the table's readability. */
const mainRoutes = (routes: readonly DesiredRoute[]) =>
  Object.fromEntries(routes.filter((r) => r.table === 254).map((r) => [r.dst, r.nexthops.map((h) => h.gateway ?? `dev ${h.dev}`).sort()]));

describe('plan: behaviour', () => {
  const GW = ['10.114.0.10', '10.114.0.11'];

  it('programs a Route through all its gateways (ECMP), marked with the ownership protocol', () => {
    const p = plan(input([route('egress', { destinations: ['192.0.2.0/24'], gateways: GW })]));
    expect(mainRoutes(p.routes)).toEqual({ '192.0.2.0/24': GW });
    expect(p.outcomes).toEqual([expect.objectContaining({ name: 'egress', state: 'Applied', reason: 'Programmed', activeGateways: GW })]);
    expect(p.probeGateways).toEqual(GW);
  });

  it.each([
    { down: ['10.114.0.10'], mode: 'closed', want: ['10.114.0.11'], reason: 'GatewaysDown' },
    { down: GW, mode: 'closed', want: GW, reason: 'AllGatewaysDown' },
    { down: GW, mode: 'open', want: GW, reason: 'AllGatewaysDown' },
  ] as const)('a plain route with $down down ($mode) goes via $want', ({ down, mode, want, reason }) => {
    const p = plan(input([route('r', { destinations: ['192.0.2.0/24'], gateways: GW })], { gatewaysDown: new Set(down), config: { ...CONFIG, overrideFailMode: mode } }));
    expect(mainRoutes(p.routes)).toEqual({ '192.0.2.0/24': want });
    // In the kernel with gateways down: Degraded (one state list for planner, CRD and summary).
    expect(p.outcomes[0]).toMatchObject({ state: 'Degraded', reason });
  });

  it('overrides the default route with a /1 pair and keeps DNS, API server and metadata on the original gateway', () => {
    const p = plan(input([route('all', { destinations: ['0.0.0.0/0'], gateways: GW })]));
    expect(mainRoutes(p.routes)).toEqual({
      '0.0.0.0/1': GW, '128.0.0.0/1': GW,
      '198.18.0.1/32': ['203.0.113.1'], '67.207.67.2/32': ['203.0.113.1'], '169.254.169.254/32': ['203.0.113.1'],
    });
    expect(p.routes.slice(0, 3).every((r) => r.purpose === 'keep')).toBe(true);
    expect(p.outcomes[0]).toMatchObject({ overrideActive: true, state: 'Applied' });
  });

  it('overrides the IPv6 default route with ::/1 and 8000::/1', () => {
    const p = plan(input([route('v6', { destinations: ['::/0'], gateways: ['2001:db8:1::1'] })]));
    expect(Object.keys(mainRoutes(p.routes)).sort()).toEqual(['8000::/1', '::/1']);
  });

  it.each([
    { mode: 'closed', want: { '0.0.0.0/1': GW, '128.0.0.0/1': GW }, reason: 'AllGatewaysDown', state: 'Degraded' },
    { mode: 'open', want: {}, reason: 'OverrideWithdrawn', state: 'Failed' },
  ] as const)('an override with every gateway down, fail-$mode', ({ mode, want, reason, state }) => {
    const p = plan(input([route('all', { destinations: ['0.0.0.0/0'], gateways: GW })], { gatewaysDown: new Set(GW), config: { ...CONFIG, overrideFailMode: mode } }));
    const halves = Object.fromEntries(Object.entries(mainRoutes(p.routes)).filter(([d]) => d.endsWith('/1')));
    expect(halves).toEqual(want);
    expect(p.outcomes[0].reason).toBe(reason);
    expect(p.outcomes[0].state).toBe(state);
    if (mode === 'open') expect(p.routes.filter((r) => r.purpose === 'keep')).toEqual([]);
  });

  it('drops a rolled-back override and says why, keeping the Route\'s other destinations', () => {
    const p = plan(input([route('all', { destinations: ['0.0.0.0/0', '192.0.2.0/24'], gateways: GW })], { overridesRolledBack: new Set(['all']) }));
    expect(mainRoutes(p.routes)).toEqual({ '192.0.2.0/24': GW });
    expect(p.outcomes[0]).toMatchObject({ reason: 'OverrideRolledBack', overrideActive: false });
  });

  it('gives a destination claimed by two Routes to the first by name, and reports the conflict on the other', () => {
    const p = plan(input([
      route('b-second', { destinations: ['192.0.2.0/24', '198.51.100.0/24'], gateways: ['10.114.0.11'] }),
      route('a-first', { destinations: ['192.0.2.0/24'], gateways: ['10.114.0.10'] }),
    ]));
    expect(mainRoutes(p.routes)).toEqual({ '192.0.2.0/24': ['10.114.0.10'], '198.51.100.0/24': ['10.114.0.11'] });
    expect(p.outcomes.find((o) => o.name === 'b-second')).toMatchObject({ state: 'Applied', reason: 'PartialConflict', conflicts: ['192.0.2.0/24 (held by Route a-first)'] });
    const only = plan(input([route('b', { destinations: ['192.0.2.0/24'], gateways: ['10.114.0.11'] }), route('a', { destinations: ['192.0.2.0/24'], gateways: ['10.114.0.10'] })]));
    expect(only.outcomes.find((o) => o.name === 'b')).toMatchObject({ state: 'Failed', reason: 'DestinationConflict', activeGateways: [] });
  });

  it('hands a contested destination to the other Route when the holder is deleted', () => {
    const p = plan(input([
      route('a', { destinations: ['192.0.2.0/24'], gateways: ['10.114.0.10'] }, true),
      route('b', { destinations: ['192.0.2.0/24'], gateways: ['10.114.0.11'] }),
    ]));
    expect(mainRoutes(p.routes)).toEqual({ '192.0.2.0/24': ['10.114.0.11'] });
    expect(p.outcomes.map((o) => [o.name, o.state])).toEqual([['a', 'Removing'], ['b', 'Applied']]);
  });

  it('skips a Route whose selector does not pick the node, with the reason, and does not probe its gateways', () => {
    const p = plan(input([route('other', { destinations: ['192.0.2.0/24'], gateways: GW, nodeSelector: pool('other') })]));
    expect(mainRoutes(p.routes)).toEqual({});
    expect(p.outcomes[0]).toMatchObject({ state: 'NotSelected', message: expect.stringContaining('does not hold') });
    expect(p.probeGateways).toEqual([]);
  });

  it('reports an invalid Route with field errors', () => {
    const p = plan(input([route('bad', { destinations: ['10.0.0.0/33'], gateways: ['10.114.0.999'] })]));
    expect(p.outcomes[0]).toMatchObject({ state: 'Invalid', reason: 'InvalidRoute' });
    expect(p.outcomes[0].errors.map((e) => [e.field, e.code])).toEqual([['spec.destinations[0]', 'Invalid'], ['spec.gateways[0]', 'Invalid']]);
  });

  it('installs table 135 via the public gateway and rule 15135 for each public address', () => {
    const p = plan(input([]));
    expect(p.routes.filter((r) => r.table === 135).map((r) => [r.dst, r.nexthops])).toEqual([
      ['0.0.0.0/0', [{ gateway: '203.0.113.1', dev: 'eth0' }]],
      ['::/0', [{ gateway: '2001:db8:ff::1', dev: 'eth0' }]],
    ]);
    expect(p.rules.map((r) => `${r.priority} from ${r.src} lookup ${r.table}`)).toEqual([
      '15135 from 203.0.113.10/32 lookup 135', '15135 from 2001:db8:ff::10/128 lookup 135',
    ]);
    expect(plan(input([], { config: { ...CONFIG, symmetricRouting: false } })).routes).toEqual([]);
  });

  it('refuses a Route that asks for exactly a protected address; the keep-route wins (docs/safety.md)', () => {
    const p = plan(input([
      route('all', { destinations: ['0.0.0.0/0'], gateways: GW }),
      route('dns', { destinations: ['67.207.67.2/32'], gateways: ['10.114.0.12'] }),
    ]));
    expect(mainRoutes(p.routes)['67.207.67.2/32']).toEqual(['203.0.113.1']);
    expect(p.outcomes.find((o) => o.name === 'dns')).toMatchObject({ state: 'Failed', reason: 'ProtectedDestination' });
  });

  it('keeps no on-link address, and keeps an address a Route sends somewhere wider on the node\'s own path', () => {
    const p = plan(input([
      route('all', { destinations: ['0.0.0.0/0'], gateways: GW }),
      route('vpn', { destinations: ['198.18.0.0/16'], gateways: ['10.114.0.12'] }),
    ], { host: { ...HOST, dnsServers: ['10.114.0.53'], connected: ['10.114.0.0/20'] } }));
    expect(p.routes.filter((r) => r.purpose === 'keep').map((r) => r.dst)).toEqual(['169.254.169.254/32', '198.18.0.1/32']);
    expect(p.outcomes.find((o) => o.name === 'vpn')).toMatchObject({ state: 'Applied', kept: ['198.18.0.1'], message: expect.stringContaining('198.18.0.1 (a control-plane endpoint (API server))') });
  });

  it('says when an override has no original default route to keep addresses on', () => {
    const p = plan(input([route('all', { destinations: ['0.0.0.0/0'], gateways: GW })], { host: { ...HOST, defaultV4: undefined } }));
    expect(p.problems).toEqual([expect.stringContaining('no IPv4 default route')]);
  });

  it('steers a forwarding probe through each gateway with its own mark and table', () => {
    const p = plan(input([route('egress', { destinations: ['192.0.2.0/24'], gateways: GW })], { config: { ...CONFIG, forwardProbeTarget: '198.18.0.2' } }));
    expect(p.forwardProbes).toEqual(GW.map((gateway, i) => ({ gateway, target: '198.18.0.2', mark: FORWARD_PROBE.markBase + i, table: FORWARD_PROBE.tableBase + i })));
    expect(p.routes.filter((r) => r.purpose === 'probe').map((r) => [r.table, r.dst, r.nexthops[0].gateway])).toEqual(GW.map((g, i) => [FORWARD_PROBE.tableBase + i, '198.18.0.2/32', g]));
    expect(p.rules.filter((r) => r.fwmark !== undefined).map((r) => [r.priority, r.fwmark, r.table])).toEqual(GW.map((_, i) => [FORWARD_PROBE.rulePriority, FORWARD_PROBE.markBase + i, FORWARD_PROBE.tableBase + i]));
    expect(plan(input([route('egress', { destinations: ['192.0.2.0/24'], gateways: GW })])).forwardProbes).toEqual([]);
  });

  it('sets the multipath sysctls DOKS documents', () => {
    expect(plan(input([])).sysctls.map((s) => `${s.key}=${s.value}`)).toEqual([
      'net.ipv4.fib_multipath_hash_policy=1', 'net.ipv6.fib_multipath_hash_policy=1', 'net.ipv4.fib_multipath_use_neigh=1',
    ]);
  });
});

// ---- Properties ----

const gateways = ['10.114.0.10', '10.114.0.11', '10.114.0.12', '2001:db8:1::1', '2001:db8:1::2'];
const v4dst = ['0.0.0.0/0', '192.0.2.0/24', '198.51.100.0/24', '10.0.0.0/8', '67.207.67.2/32', '0.0.0.0/1'];
const v6dst = ['::/0', '2001:db8:2::/48', '::/1'];
const arbValidSpec: fc.Arbitrary<RouteSpec> = fc.boolean().chain((v6) =>
  fc.record({
    destinations: fc.uniqueArray(fc.constantFrom(...(v6 ? v6dst : v4dst)), { minLength: 1, maxLength: 3 }),
    gateways: fc.uniqueArray(fc.constantFrom(...gateways.filter((g) => g.includes(':') === v6)), { minLength: 1, maxLength: 3 }),
    nodeSelector: fc.option(fc.constantFrom(pool('egress'), pool('other')), { nil: undefined }),
  }).map((s) => (s.nodeSelector ? s : { destinations: s.destinations, gateways: s.gateways })),
);
const arbInvalidObject: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant({ kind: 'Route' }),
  fc.record({ destinations: fc.constant(['10.0.0.0/33']), gateways: fc.constant(['10.114.0.10']) }).map((s) => routeObject('x', s)),
  fc.record({ destinations: fc.constant(['192.0.2.0/24']), gateways: fc.constant(['2001:db8:1::1']) }).map((s) => routeObject('x', s)),
  fc.string(),
);
const arbRoutes = fc.uniqueArray(
  fc.record({ name: fc.stringMatching(/^[a-e]$/), spec: arbValidSpec, deleting: fc.boolean() }),
  { selector: (r) => r.name, maxLength: 5 },
).map((rs) => rs.map((r) => route(r.name, r.spec, r.deleting)));
const arbInput = fc.record({
  routes: arbRoutes,
  down: fc.subarray(gateways),
  mode: fc.constantFrom('closed' as const, 'open' as const),
  rolledBack: fc.subarray(['a', 'b', 'c']),
  forward: fc.constantFrom('', '198.18.0.2', '2001:db8:9::1'),
}).map(({ routes, down, mode, rolledBack, forward }) =>
  input(routes, { gatewaysDown: new Set(down), overridesRolledBack: new Set(rolledBack), config: { ...CONFIG, overrideFailMode: mode, forwardProbeTarget: forward } }));

/** A kernel in memory: applies diff operations the way `ip route replace/del` and `ip rule add/del` would. */
function applyOps(state: KernelState, ops: readonly KernelOp[]): KernelState {
  const owned = new Map<string, KernelRoute>(state.owned.map((r) => [`${r.family} ${r.table} ${r.dst} ${r.metric}`, r]));
  const rules: KernelRule[] = [...state.ownedRules];
  for (const op of ops) {
    if (op.kind === 'replace-route') {
      const r = op.route;
      const metric = r.family === 4 ? 0 : 1024;
      owned.set(`${r.family} ${r.table} ${r.dst} ${metric}`, { family: r.family, dst: r.dst, table: r.table, protocol: r.protocol, metric, type: 1, nexthops: sortHops(r.nexthops) });
    } else if (op.kind === 'delete-route') owned.delete(`${op.route.family} ${op.route.table} ${op.route.dst} ${op.route.metric}`);
    else if (op.kind === 'add-rule') rules.push({ ...op.rule });
    else rules.splice(rules.findIndex((r) => r.priority === op.rule.priority && r.src === op.rule.src && r.table === op.rule.table && r.fwmark === op.rule.fwmark), 1);
  }
  return { owned: [...owned.values()], foreign: state.foreign, ownedRules: rules };
}

describe('plan: properties', () => {
  it('is deterministic and does not depend on the order of the Routes', () => {
    fc.assert(fc.property(arbInput, fc.func(fc.integer()), (i, f) => {
      const shuffled = { ...i, routes: [...i.routes].sort((a, b) => f(a.name) - f(b.name) || (a.name < b.name ? -1 : 1)) };
      expect(plan(shuffled)).toEqual(plan(i));
    }));
  });

  it('never emits a route or rule without the ownership protocol', () => {
    fc.assert(fc.property(arbInput, fc.integer({ min: 4, max: 255 }), (i, proto) => {
      const p = plan({ ...i, config: { ...i.config, ownership: { ...DEFAULT_OWNERSHIP, protocol: proto } } });
      expect([...p.routes, ...p.rules].every((r) => r.protocol === proto)).toBe(true);
      expect(p.routes.every((r) => r.nexthops.length > 0)).toBe(true);
    }));
  });

  it('never lets an invalid Route change what valid ones get', () => {
    fc.assert(fc.property(arbInput, fc.array(arbInvalidObject, { maxLength: 3 }), (i, bad) => {
      const invalid = bad.map((object, n) => ({ name: `zz-invalid-${n}`, object, deleting: false }));
      const withBad = plan({ ...i, routes: [...invalid, ...i.routes] });
      const without = plan(i);
      expect(withBad.routes).toEqual(without.routes);
      expect(withBad.outcomes.filter((o) => o.name.startsWith('zz-')).every((o) => o.state === 'Invalid')).toBe(true);
    }));
  });

  it('planning only what changed (a memo carried from pass to pass) gives the plan of planning everything', () => {
    fc.assert(fc.property(fc.array(fc.tuple(arbInput, fc.boolean()), { minLength: 2, maxLength: 5 }), fc.constantFrom('egress', 'other'), (passes, otherPool) => {
      const memo = new PlanMemo();
      // The agent validates once per generation: the same spec under the same name keeps its result from pass to pass.
      const validations = new Map<string, Result<NormalizedRoute>>();
      for (const [i, relabel] of passes) {
        const routes = i.routes.map((r) => {
          const k = `${r.name} ${JSON.stringify(r.object)}`;
          const validated = validations.get(k) ?? validateRoute(r.object);
          validations.set(k, validated);
          return { ...r, validated };
        });
        const node = relabel ? { ...NODE, labels: { 'doks.digitalocean.com/node-pool': otherPool } } : NODE;
        const full = plan({ ...i, routes, node });
        expect(plan({ ...i, routes, node }, memo)).toEqual(full);
        expect(plan({ ...i, routes: routes.map((r) => ({ ...r })), node }, memo)).toEqual(full);
        expect(memo.replanned).toBe(0);
      }
    }));
  });

  it('planning twice equals planning once, and applying the plan twice changes nothing the second time', () => {
    fc.assert(fc.property(arbInput, arbInput, (before, after) => {
      const empty: KernelState = { owned: [], foreign: [], ownedRules: [] };
      // Start from the state of some other plan (a restart with leftovers), then converge on `after`.
      const first = plan(before);
      const start = applyOps(empty, diffKernel(empty, first, 145).ops);
      const p = plan(after);
      expect(plan(after)).toEqual(p);
      const once = applyOps(start, diffKernel(start, p, 145).ops);
      expect(diffKernel(once, p, 145).ops).toEqual([]);
    }));
  });
});
