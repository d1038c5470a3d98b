/**
 * The CDK-style provider objects (EgressProvider) under Pulumi's runtime mocks: each must create exactly what its
 * component creates, and addStaticEgress must route through its gateways. The DigitalOcean API is not reachable
 * here: FakeCloud (test/pulumi/harness.ts) stands in for it, labelled as a fake.
 */
import * as pulumi from '@pulumi/pulumi';
import { FakeCloud, registeredUrns, valueOf } from './harness.js';

const cloud = new FakeCloud();
await pulumi.runtime.setMocks(cloud, 'kroute', 'test', false);
const kroute = await import('../../pulumi-provider/digitalocean/index.js');
const core = await import('../../core/index.js');

const custom = () => cloud.resources.filter((r) => r.custom);
/** Inputs that hold ids the fake invents from a counter (Droplet ids, Reserved IPs): they differ from run to run. */
const INVENTED = new Set(['digitalocean:index/reservedIpAssignment:ReservedIpAssignment', 'digitalocean:index/firewall:Firewall']);
/** Type, name and inputs of every resource, and the URNs (which encode the parent chain), in registration order. */
const graph = () => ({
  resources: cloud.resources.map((r) => ({ type: r.type, name: r.name, custom: r.custom, ...(INVENTED.has(r.type) ? {} : { inputs: r.inputs }) })),
  urns: registeredUrns(),
});
const fieldsOf = (f: () => unknown): Array<[string, string, unknown]> => {
  try {
    f();
  } catch (e) {
    if (e instanceof kroute.ComponentValidationError) return e.errors.map((x) => [x.field, x.code, x.value]);
    throw e;
  }
  throw new Error('expected a ComponentValidationError');
};
const vpc = { region: 'fra1', vpcUuid: 'vpc-1', vpcIpRange: '10.10.0.0/16' };
const pool = { name: 'default', size: 's-2vcpu-4gb', nodeCount: 2 };

/**
 * The graph built by `build` in a fresh mock monitor. URNs accumulate in the monitor for the whole run, so each
 * side of a comparison gets its own: otherwise the second would see the first's resources.
 */
async function graphOf(build: () => unknown): Promise<ReturnType<typeof graph>> {
  await pulumi.runtime.setMocks(cloud, 'kroute', 'test', false);
  cloud.reset();
  build();
  await cloud.settle();
  return graph();
}

beforeEach(() => cloud.reset());

describe('EgressProvider (choose a NAT strategy as an object, like CDK\'s NatProvider)', () => {
  it('natGateway() creates the same resources, names and parents as NatGatewayEgress with the same args', async () => {
    const direct = await graphOf(() => new kroute.NatGatewayEgress('egress', { region: 'fra1', vpcUuid: 'vpc-1', size: 2, egressIps: ['203.0.113.7'] }));
    const viaProvider = await graphOf(() => kroute.EgressProvider.natGateway({ size: 2, egressIps: ['203.0.113.7'] }).provision('egress', vpc));
    expect(viaProvider).toEqual(direct);
    expect(direct.urns.some((u) => u.endsWith('kroute:index:NatGatewayEgress$digitalocean:index/vpcNatGateway:VpcNatGateway::egress-nat'))).toBe(true);
  });

  it('gatewayDroplets() creates the same resources, names and parents as GatewayDropletEgress with the same args', async () => {
    const direct = await graphOf(() => new kroute.GatewayDropletEgress('egress', { ...vpc, count: 3, sshKeys: ['k1'] }));
    const viaProvider = await graphOf(() => kroute.EgressProvider.gatewayDroplets({ count: 3, sshKeys: ['k1'] }).provision('egress', vpc));
    expect(viaProvider).toEqual(direct);
    expect(direct.resources.filter((r) => r.type === 'digitalocean:index/droplet:Droplet').map((r) => r.name)).toEqual(['egress-gateway-0', 'egress-gateway-1', 'egress-gateway-2']);
    expect(direct.urns.some((u) => u.endsWith('kroute:index:GatewayDropletEgress$digitalocean:index/reservedIp:ReservedIp::egress-ip-2'))).toBe(true);
  });

  it('returns the component\'s gateway and egress IPs', async () => {
    const nat = kroute.EgressProvider.natGateway().provision('nat', vpc);
    const gw = kroute.EgressProvider.gatewayDroplets().provision('gw', vpc);
    expect(nat.component).toBeInstanceOf(kroute.NatGatewayEgress);
    expect(gw.component).toBeInstanceOf(kroute.GatewayDropletEgress);
    expect(await valueOf(nat.gatewayIps)).toEqual(['10.10.0.2']);
    expect(await valueOf(nat.egressIps)).toEqual(['203.0.113.200']);
    expect(await valueOf(gw.gatewayIps)).toEqual(await valueOf(gw.component.gatewayIps));
    expect(await valueOf(gw.egressIps)).toHaveLength(2);
  });

  it.each([
    ['natGateway size', () => kroute.EgressProvider.natGateway({ size: 17 }), [['props.size', 'Invalid', 17]]],
    ['natGateway egress IP', () => kroute.EgressProvider.natGateway({ egressIps: ['203.0.113.999'] }), [['props.egressIps[0]', 'Invalid', '203.0.113.999']]],
    ['gatewayDroplets count', () => kroute.EgressProvider.gatewayDroplets({ count: 0 }), [['props.count', 'Invalid', 0]]],
    ['gatewayDroplets over the Reserved IP quota', () => kroute.EgressProvider.gatewayDroplets({ count: 4 }), [['props.count', 'TooMany', 4]]],
    ['gatewayDroplets one Reserved IP per gateway', () => kroute.EgressProvider.gatewayDroplets({ reservedIps: ['203.0.113.1'] }), [['props.reservedIps', 'Invalid', ['203.0.113.1']]]],
  ])('refuses a bad prop when the provider is made, naming field and value (%s)', (_what, make, expected) => {
    expect(fieldsOf(make)).toEqual(expected);
    expect(cloud.resources).toEqual([]);
  });

  it('says what is wrong in the message', () => {
    expect(() => kroute.EgressProvider.natGateway({ size: 0 })).toThrow(/EgressProvider.natGateway\(\) is invalid:\n {2}- props.size: 0 must be an integer from 1 to 16/);
  });

  it('gatewayDroplets() needs the VPC range, and says so before creating anything', () => {
    expect(fieldsOf(() => kroute.EgressProvider.gatewayDroplets().provision('gw', { region: 'fra1', vpcUuid: 'vpc-1' }))).toEqual([['placement.vpcIpRange', 'Required', undefined]]);
    expect(cloud.resources).toEqual([]);
  });
});

describe('addStaticEgress (a provider wired to a DoksCluster)', () => {
  it('gives a StaticEgress Route whose gateways are the provider\'s gateway IPs, through the cluster\'s Kubernetes provider', async () => {
    const cluster = new kroute.DoksCluster('doks', { region: 'fra1', version: '1.33.1-do.0', vpcIpRange: '10.10.0.0/16', nodePool: pool });
    const e = kroute.addStaticEgress('egress', cluster, kroute.EgressProvider.gatewayDroplets(), { region: 'fra1', vpcIpRange: '10.10.0.0/16' });
    await cloud.settle();
    const gateways = await valueOf(e.gatewayIps);
    expect(gateways).toHaveLength(2);
    expect(cloud.get('egress-static-egress-route').inputs).toEqual(core.staticEgressRoute('egress-static-egress', { gateways }));
    expect(cloud.get('egress-static-egress-route').provider).toMatch(/pulumi:providers:kubernetes::egress-k8s::/);
    expect(cloud.get('egress-gateway-0').inputs).toMatchObject({ region: 'fra1', vpcUuid: 'doks-vpc-id' });
    expect(await valueOf(e.staticEgress.gateways)).toEqual(gateways);
  });

  it('passes the scope on: per node pool with a NAT gateway', async () => {
    const cluster = new kroute.DoksCluster('doks', { region: 'fra1', version: '1.33.1-do.0', nodePool: pool });
    kroute.addStaticEgress('nat', cluster, kroute.EgressProvider.natGateway(), { region: 'fra1', scope: kroute.EgressScope.NODE_POOLS, nodePools: ['egress'] });
    await cloud.settle();
    expect(cloud.get('nat-static-egress-route').inputs).toEqual(
      core.staticEgressRoute('nat-static-egress', { gateways: ['10.10.0.2'], scope: core.EgressScope.NODE_POOLS, nodePools: ['egress'] }),
    );
  });

  it('refuses a bad scope before creating any gateway', () => {
    const cluster = new kroute.DoksCluster('doks', { region: 'fra1', version: '1.33.1-do.0', nodePool: pool });
    const before = custom().length;
    const fields = fieldsOf(() => kroute.addStaticEgress('nat', cluster, kroute.EgressProvider.natGateway(), { region: 'fra1', scope: kroute.EgressScope.NODE_POOLS }));
    expect(fields.map(([f]) => f)).toEqual([expect.stringMatching(/^options\.nodePools/)]);
    expect(custom().length).toBe(before);
    expect(cloud.resources.map((r) => r.name)).not.toContain('nat');
  });
});
