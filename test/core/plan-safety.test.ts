/**
 * The planner's safety rules (docs/safety.md), one row per case of issue 12, on host facts shaped like a
 * DigitalOcean node (test/net/topology.ts): eth0 public 203.0.113.10/24 with gateway .1, eth1 VPC 10.114.0.2/20,
 * gateways .3/.4; the API server, DNS and metadata reached through eth0's gateway.
 */
import { routeObject, type RouteSpec } from '../../core/index.js';
import { DEFAULT_OWNERSHIP, plan, type DesiredRoute, type HostFacts, type PlanConfig, type PlanInput, type PlanRouteInput, type RouteOutcome } from '../../core/plan/index.js';

const CONFIG: PlanConfig = { ownership: DEFAULT_OWNERSHIP, symmetricRouting: false, overrideFailMode: 'closed' };
const HOST: HostFacts = {
  defaultV4: { gateway: '203.0.113.1', dev: 'eth0' },
  defaultV6: { gateway: '2001:db8:1::1', dev: 'eth0' },
  publicInterface: { name: 'eth0', addresses: ['203.0.113.10', '2001:db8:1::10'], gatewayV4: '203.0.113.1', gatewayV6: '2001:db8:1::1' },
  connected: ['203.0.113.0/24', '10.114.0.0/20', '2001:db8:1::/64', 'fd00:114::/64'],
  dnsServers: ['192.0.2.53', '127.0.0.53'],
  controlPlaneAddresses: ['198.18.0.10', '2001:db8:5::443'],
  keepAddresses: ['169.254.169.254'],
};
const GW3 = '10.114.0.3';
const GW4 = '10.114.0.4';
const route = (name: string, spec: RouteSpec, deleting = false): PlanRouteInput => ({ name, object: routeObject(name, spec), deleting });
const input = (routes: PlanRouteInput[], over: Partial<PlanInput> = {}): PlanInput => ({
  routes, node: { name: 'node-1', labels: {} }, host: HOST, gatewaysDown: new Set(), config: CONFIG, ...over,
});
const main = (routes: readonly DesiredRoute[]) =>
  Object.fromEntries(routes.filter((r) => r.table === 254).map((r) => [r.dst, `${r.purpose} ${r.nexthops.map((h) => h.gateway ?? `dev ${h.dev}`).sort().join(',')}`]));
const byName = (os: readonly RouteOutcome[], n: string) => os.find((o) => o.name === n);
const KEEPS_V4 = { '198.18.0.10/32': 'keep 203.0.113.1', '192.0.2.53/32': 'keep 203.0.113.1', '169.254.169.254/32': 'keep 203.0.113.1' };

describe('case 1: a destination set covering 0.0.0.0/0 or ::/0 is an override, with every override protection', () => {
  it.each([
    { name: 'the /1 pair', destinations: ['0.0.0.0/1', '128.0.0.0/1'] },
    { name: 'four /2 quarters', destinations: ['0.0.0.0/2', '64.0.0.0/2', '128.0.0.0/2', '192.0.0.0/2'] },
    { name: 'a /1 and two /2', destinations: ['0.0.0.0/1', '128.0.0.0/2', '192.0.0.0/2'] },
  ])('$name via a VPC gateway: override routes, keep-routes for the API server, DNS and metadata', ({ destinations }) => {
    const p = plan(input([route('disguised', { destinations, gateways: [GW3] })]));
    expect(main(p.routes)).toEqual({ ...Object.fromEntries(destinations.map((d) => [d, `override ${GW3}`])), ...KEEPS_V4 });
    expect(p.outcomes[0]).toMatchObject({ state: 'Applied', overrideActive: true });
  });

  it('rolls the whole disguised override back, and withdraws it fail-open', () => {
    const spec = { destinations: ['0.0.0.0/1', '128.0.0.0/1'], gateways: [GW3] };
    const back = plan(input([route('d', spec)], { overridesRolledBack: new Set(['d']) }));
    expect(main(back.routes)).toEqual({});
    expect(back.outcomes[0]).toMatchObject({ state: 'Failed', reason: 'OverrideRolledBack', overrideActive: false });
    const open = plan(input([route('d', spec)], { gatewaysDown: new Set([GW3]), config: { ...CONFIG, overrideFailMode: 'open' } }));
    expect(main(open.routes)).toEqual({});
    expect(open.outcomes[0]).toMatchObject({ reason: 'OverrideWithdrawn' });
  });

  it('::/1 + 8000::/1 is an IPv6 override that keeps the IPv6 API server', () => {
    const p = plan(input([route('v6', { destinations: ['::/1', '8000::/1'], gateways: ['fd00:114::3'] })]));
    expect(main(p.routes)).toEqual({ '::/1': 'override fd00:114::3', '8000::/1': 'override fd00:114::3', '2001:db8:5::443/128': 'keep 2001:db8:1::1' });
    expect(p.outcomes[0].overrideActive).toBe(true);
  });

  it('one /1 alone is no override, yet the protected addresses inside it are kept', () => {
    const p = plan(input([route('half', { destinations: ['128.0.0.0/1'], gateways: [GW3] })]));
    expect(main(p.routes)).toEqual({ '128.0.0.0/1': `route ${GW3}`, ...KEEPS_V4 });
    expect(p.outcomes[0]).toMatchObject({ state: 'Applied', overrideActive: false, kept: ['198.18.0.10', '169.254.169.254', '192.0.2.53'] });
  });
});

describe('case 2: the control plane, metadata and neighbours cannot be routed away', () => {
  it.each([
    { dst: '169.254.169.254/32', kind: 'protected_address', says: '169.254.169.254/32 is the metadata service' },
    { dst: '198.18.0.10/32', kind: 'protected_address', says: '198.18.0.10/32 is a control-plane endpoint (API server)' },
    { dst: '192.0.2.53/32', kind: 'protected_address', says: '192.0.2.53/32 is a DNS server of the node' },
    { dst: '10.114.0.0/24', kind: 'connected_subnet', says: `10.114.0.0/24 is inside the node's directly connected subnet 10.114.0.0/20: routing it through a gateway would cut the node off its neighbours there, among them ${GW3} (a gateway this node uses (Route r))` },
    { dst: '10.114.0.0/20', kind: 'connected_subnet', says: "inside the node's directly connected subnet 10.114.0.0/20" },
    { dst: '203.0.113.0/25', kind: 'connected_subnet', says: "203.0.113.0/25 is inside the node's directly connected subnet 203.0.113.0/24: routing it through a gateway would cut the node off its neighbours there, among them 203.0.113.1 (the node's own default gateway)" },
  ])('refuses $dst, naming the address and why ($kind)', ({ dst, kind, says }) => {
    const p = plan(input([route('r', { destinations: [dst], gateways: [GW3] })]));
    expect(main(p.routes)).toEqual({});
    expect(p.outcomes[0]).toMatchObject({ state: 'Failed', reason: 'ProtectedDestination', refused: [{ destination: dst, kind, reason: expect.stringContaining(says) }] });
    expect(p.outcomes[0].message).toContain(says);
  });

  it('refuses only the protected destination of a Route and applies the rest (PartiallyRefused)', () => {
    const p = plan(input([route('r', { destinations: ['169.254.169.254/32', '10.70.0.0/16'], gateways: [GW3] })]));
    expect(main(p.routes)).toEqual({ '10.70.0.0/16': `route ${GW3}` });
    expect(p.outcomes[0]).toMatchObject({ state: 'Applied', reason: 'PartiallyRefused', refused: [{ destination: '169.254.169.254/32' }] });
  });

  it('names the other gateway a VPC-covering Route would cut off', () => {
    const p = plan(input([route('a', { destinations: ['10.114.0.0/24'], gateways: [GW3] }), route('b', { destinations: ['10.80.0.0/16'], gateways: [GW4] })]));
    expect(byName(p.outcomes, 'a')?.message).toContain(`${GW4} (a gateway this node uses (Route b))`);
    expect(main(p.routes)).toEqual({ '10.80.0.0/16': `route ${GW4}` });
  });

  it('applies a wider prefix than a connected subnet (the subnet still wins by longest match)', () => {
    const p = plan(input([route('wide', { destinations: ['10.0.0.0/8'], gateways: [GW3] })]));
    expect(main(p.routes)).toEqual({ '10.0.0.0/8': `route ${GW3}` });
    expect(p.outcomes[0]).toMatchObject({ state: 'Applied', reason: 'Programmed' });
  });

  it.each([
    ['127.0.0.0/8', 'loopback'], ['224.0.0.0/4', 'multicast'], ['239.1.0.0/16', 'multicast'], ['169.254.10.0/24', 'link-local'],
    ['0.0.0.0/8', 'this network'], ['255.255.255.255/32', 'broadcast'], ['::1/128', 'loopback'], ['ff02::/16', 'multicast'], ['fe80::/64', 'link-local'],
  ])('refuses %s everywhere as Invalid (%s)', (dst, what) => {
    const gw = dst.includes(':') ? 'fd00:114::3' : GW3;
    const p = plan(input([route('never', { destinations: [dst], gateways: [gw] })]));
    expect(main(p.routes)).toEqual({});
    expect(p.outcomes[0]).toMatchObject({ state: 'Invalid', reason: 'InvalidRoute' });
    expect(p.outcomes[0].message).toMatch(new RegExp(`spec\\.destinations\\[0\\].*${what}`));
  });
});

describe('case 3: a Route covering a protected address never defeats a legitimate override', () => {
  it.each([
    { cover: '192.0.2.0/24', kept: '192.0.2.53', why: 'DNS server' },
    { cover: '198.18.0.0/24', kept: '198.18.0.10', why: 'control-plane endpoint' },
  ])('0.0.0.0/0 via .3 and $cover via .4: $kept stays on eth0, both Applied, nobody blamed', ({ cover, kept, why }) => {
    const p = plan(input([route('a-cover', { destinations: [cover], gateways: [GW4] }), route('z-override', { destinations: ['0.0.0.0/0'], gateways: [GW3] })]));
    expect(main(p.routes)).toEqual({ '0.0.0.0/1': `override ${GW3}`, '128.0.0.0/1': `override ${GW3}`, [cover]: `route ${GW4}`, ...KEEPS_V4 });
    const o = byName(p.outcomes, 'z-override');
    expect(o).toMatchObject({ state: 'Applied', reason: 'Programmed', overrideActive: true, conflicts: [], refused: [] });
    expect(byName(p.outcomes, 'a-cover')).toMatchObject({ state: 'Applied', kept: [kept], message: expect.stringContaining(`kept on the node's own path: ${kept} (`) });
    expect(byName(p.outcomes, 'a-cover')?.message).toContain(why);
  });
});

describe('case 4: ownership stays exact when a slot changes hands', () => {
  const a = route('b-holder', { destinations: ['10.70.0.0/16'], gateways: [GW3] });
  const offLink = route('a-taker', { destinations: ['10.70.0.0/16'], gateways: ['10.99.0.1'] });

  it('a Route whose gateways are off every connected network takes no slot: the holder keeps it', () => {
    const p = plan(input([a, offLink]));
    expect(main(p.routes)).toEqual({ '10.70.0.0/16': `route ${GW3}` });
    expect(byName(p.outcomes, 'a-taker')).toMatchObject({ state: 'Failed', reason: 'GatewayNotOnLink', message: expect.stringContaining('gateway 10.99.0.1 is not on a network this node is connected to') });
    expect(p.probeGateways).toEqual([GW3]);
  });

  it('when the holder is deleted, its route goes even though the off-link Route still asks for the slot', () => {
    const p = plan(input([route('b-holder', { destinations: ['10.70.0.0/16'], gateways: [GW3] }, true), offLink]));
    expect(main(p.routes)).toEqual({});
  });

  it('an override through an off-link gateway plans nothing: no /1 pair, no keep-routes, nothing to confirm', () => {
    const p = plan(input([route('o', { destinations: ['0.0.0.0/0'], gateways: ['10.99.0.1'] })]));
    expect(main(p.routes)).toEqual({});
    expect(p.outcomes[0]).toMatchObject({ state: 'Failed', overrideActive: false, reason: 'GatewayNotOnLink' });
  });

  it('an off-link gateway beside an on-link one leaves the set, and the Route says so', () => {
    const p = plan(input([route('mixed', { destinations: ['10.70.0.0/16'], gateways: [GW3, '10.99.0.1'] })]));
    expect(main(p.routes)).toEqual({ '10.70.0.0/16': `route ${GW3}` });
    expect(p.outcomes[0]).toMatchObject({ state: 'Applied', reason: 'PartiallyRefused', gateways: [GW3], activeGateways: [GW3] });
  });
});

describe('case 6: probing is bounded per node', () => {
  it('probes at most probeMaxGateways gateways (sorted) and says which are not probed', () => {
    const routes = Array.from({ length: 5 }, (_, i) => route(`r${i}`, { destinations: [`10.${70 + i}.0.0/16`], gateways: [`10.114.1.${i + 1}`] }));
    const p = plan(input(routes, { config: { ...CONFIG, probeMaxGateways: 3 } }));
    expect(p.probeGateways).toEqual(['10.114.1.1', '10.114.1.2', '10.114.1.3']);
    expect(p.unprobedGateways).toEqual(['10.114.1.4', '10.114.1.5']);
    expect(p.problems).toEqual(['5 gateways selected on this node; only the first 3 are probed (--probe-max-gateways), the other 2 are assumed up: 10.114.1.4, 10.114.1.5']);
    expect(Object.keys(main(p.routes))).toHaveLength(5);
    expect(plan(input(routes)).problems).toEqual([]);
  });
});
