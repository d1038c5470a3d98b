/**
 * What `kroute plan` computes from a plan and a kernel state (pure): adds, replaces with the next hops before,
 * removals of orphans, a foreign route in a slot refused by name, and the property that once a plan's changes are
 * in the kernel there is nothing left to change (fast-check over random Route sets).
 */
import fc from 'fast-check';
import { routeObject, type RouteSpec } from '../../core/index.js';
import type { HostFacts, PlanConfig, PlanInput, PlanRouteInput } from '../../core/plan/index.js';
import { DEFAULT_OWNERSHIP, plan } from '../../core/plan/index.js';
import { asKernel, nodePlan, proposalPlan } from '../../agent/cli/changes.js';
import type { KernelRoute, KernelState } from '../../agent/kernel/state.js';

const CONFIG: PlanConfig = { ownership: DEFAULT_OWNERSHIP, symmetricRouting: true, overrideFailMode: 'closed' };
const HOST: HostFacts = {
  defaultV4: { gateway: '203.0.113.1', dev: 'eth0' },
  publicInterface: { name: 'eth0', addresses: ['203.0.113.10'], gatewayV4: '203.0.113.1' },
  dnsServers: ['192.0.2.53'],
  controlPlaneAddresses: ['198.18.0.10'],
  keepAddresses: ['169.254.169.254'],
};
const route = (name: string, spec: RouteSpec): PlanRouteInput => ({ name, object: routeObject(name, spec), deleting: false });
const input = (routes: PlanRouteInput[]): PlanInput => ({ routes, node: { name: 'n1', labels: {} }, host: HOST, gatewaysDown: new Set(), config: CONFIG });
const kernelRoute = (dst: string, gateways: string[], protocol = 145): KernelRoute => ({
  family: 4, dst, table: 254, protocol, metric: 0, type: 1, nexthops: gateways.map((gateway) => ({ gateway })),
});

describe('kroute plan: changes against the kernel', () => {
  it('adds what is missing, replaces a route with other next hops (saying which), removes an orphan', () => {
    const i = input([route('a', { destinations: ['172.16.0.0/12'], gateways: ['10.114.0.3', '10.114.0.4'] }), route('b', { destinations: ['10.9.0.0/16'], gateways: ['10.114.0.5'] })]);
    const inPlace = asKernel(plan(i));
    const kernel: KernelState = {
      ...inPlace,
      owned: [
        ...inPlace.owned.filter((r) => r.dst !== '10.9.0.0/16' && r.dst !== '172.16.0.0/12'),
        kernelRoute('172.16.0.0/12', ['10.114.0.3']),
        kernelRoute('10.50.0.0/16', ['10.114.0.9']),
      ],
    };
    const r = nodePlan(i, { kernel, source: 'local' });
    expect(r.changes.routes).toEqual([
      { action: 'add', family: 4, table: 254, dst: '10.9.0.0/16', nexthops: [{ gateway: '10.114.0.5' }], purpose: 'route', route: 'b' },
      { action: 'replace', family: 4, table: 254, dst: '172.16.0.0/12', nexthops: [{ gateway: '10.114.0.3' }, { gateway: '10.114.0.4' }], before: [{ gateway: '10.114.0.3' }], purpose: 'route', route: 'a' },
      { action: 'remove', family: 4, table: 254, dst: '10.50.0.0/16', nexthops: [{ gateway: '10.114.0.9' }] },
    ]);
    expect(r.pending).toBe(true);
  });

  it('a route not owned by kroute in the slot is refused by name, never replaced', () => {
    const i = input([route('a', { destinations: ['172.16.0.0/12'], gateways: ['10.114.0.3'] })]);
    const inPlace = asKernel(plan(i));
    const kernel: KernelState = { ...inPlace, owned: inPlace.owned.filter((r) => r.dst !== '172.16.0.0/12'), foreign: [kernelRoute('172.16.0.0/12', ['10.114.0.1'], 4)] };
    const r = nodePlan(i, { kernel, source: 'local' });
    expect(r.changes.routes).toEqual([]);
    expect(r.refused).toEqual([{ route: 'a', reason: 'ForeignRoute', destination: '172.16.0.0/12', message: '172.16.0.0/12 table 254: a route not owned by kroute (protocol 4) is already there; left alone' }]);
    expect(r.pending).toBe(true);
  });

  it('sysctls: set when they differ, keep when right, unknown when not read; only set is pending', () => {
    const i = input([]);
    const kernel = asKernel(plan(i));
    const right = new Map([['net.ipv4.fib_multipath_hash_policy', '1'], ['net.ipv6.fib_multipath_hash_policy', '1'], ['net.ipv4.fib_multipath_use_neigh', '1']]);
    expect(nodePlan(i, { kernel, sysctls: right, source: 'local' }).pending).toBe(false);
    const wrong = new Map([...right, ['net.ipv4.fib_multipath_use_neigh', '0']]);
    const r = nodePlan(i, { kernel, sysctls: wrong, source: 'local' });
    expect(r.changes.sysctls.map((s) => s.action)).toEqual(['keep', 'keep', 'set']);
    expect(r.pending).toBe(true);
    expect(nodePlan(i, { kernel, source: 'none' }).changes.sysctls.map((s) => s.action)).toEqual(['unknown', 'unknown', 'unknown']);
  });

  const dsts = ['10.1.0.0/16', '10.2.0.0/16', '172.16.0.0/12', '0.0.0.0/0', '192.168.7.0/24'];
  const gws = ['10.114.0.3', '10.114.0.4', '10.114.0.5'];
  const arbRoutes = fc.uniqueArray(
    fc.record({ name: fc.constantFrom('a', 'b', 'c', 'd'), destinations: fc.uniqueArray(fc.constantFrom(...dsts), { minLength: 1, maxLength: 3 }), gateways: fc.uniqueArray(fc.constantFrom(...gws), { minLength: 1, maxLength: 3 }) }),
    { selector: (r) => r.name, maxLength: 4 },
  ).map((rs) => rs.map((r) => route(r.name, { destinations: r.destinations, gateways: r.gateways })));

  it('property: once the changes are in the kernel there is nothing left to change; a proposal diff equals the plan diff', () => {
    fc.assert(fc.property(arbRoutes, arbRoutes, (now, proposed) => {
      const i = input(now);
      const r = nodePlan(i, { kernel: asKernel(plan(i)), source: 'local' });
      expect(r.changes).toEqual({ routes: [], rules: [], sysctls: r.changes.sysctls });
      // What a proposal changes on the node equals the plan of the node with it, against the kernel without it.
      const p = proposalPlan(i, proposed.map((x) => ({ name: x.name, object: x.object })));
      const names = new Set(proposed.map((x) => x.name));
      const withIt = input([...now.filter((x) => !names.has(x.name)), ...proposed]);
      const direct = nodePlan(withIt, { kernel: asKernel(plan(i)), source: 'local' });
      expect(p.changes.routes).toEqual(direct.changes.routes);
      expect(p.changes.rules).toEqual(direct.changes.rules);
    }), { numRuns: 200 });
  });
});
