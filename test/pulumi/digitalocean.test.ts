/**
 * The DigitalOcean static-egress patterns under Pulumi's runtime mocks. The DigitalOcean API is not reachable
 * here: FakeCloud (test/pulumi/harness.ts) stands in for it, labelled as a fake, and invents the outputs.
 */
import * as pulumi from '@pulumi/pulumi';
import YAML from 'yaml';
import { FakeCloud, urnOf, valueOf } from './harness.js';

const cloud = new FakeCloud();
await pulumi.runtime.setMocks(cloud, 'kroute', 'test', false);
const kroute = await import('../../pulumi-provider/digitalocean/index.js');
const core = await import('../../core/index.js');

const custom = () => cloud.resources.filter((r) => r.custom);
const types = () => custom().map((r) => `${r.type} ${r.name}`);
const fieldsOf = (f: () => unknown): string[][] => {
  try {
    f();
  } catch (e) {
    if (e instanceof kroute.ComponentValidationError) return e.errors.map((x) => [x.field, x.code]);
    throw e;
  }
  throw new Error('expected a ComponentValidationError');
};
const pool = { name: 'default', size: 's-2vcpu-4gb', nodeCount: 2 };

beforeEach(() => cloud.reset());

describe('DoksCluster', () => {
  it('creates a VPC and a VPC-native cluster with DigitalOcean\'s managed routing agent, and no kroute objects', async () => {
    const c = new kroute.DoksCluster('doks', { region: 'fra1', version: '1.33.1-do.0', vpcIpRange: '10.10.0.0/16', clusterSubnet: '10.244.0.0/16', serviceSubnet: '10.245.0.0/16', nodePool: pool });
    await cloud.settle();
    expect(types()).toEqual([
      'digitalocean:index/vpc:Vpc doks-vpc',
      'digitalocean:index/kubernetesCluster:KubernetesCluster doks-cluster',
      'pulumi:providers:kubernetes doks-k8s',
    ]);
    const cluster = cloud.get('doks-cluster').inputs;
    expect(cluster).toMatchObject({ region: 'fra1', vpcUuid: 'doks-vpc-id', routingAgent: { enabled: true }, clusterSubnet: '10.244.0.0/16', nodePool: { name: 'default', nodeCount: 2 } });
    expect(cloud.get('doks-vpc').inputs).toMatchObject({ region: 'fra1', ipRange: '10.10.0.0/16' });
    expect(urnOf('doks-agent')).toContain('kroute:index:DoksCluster$kroute:index:RoutingAgent::doks-agent');
    expect(await valueOf(c.managedRoutingAgent)).toBe(true);
    expect(await valueOf(c.kubeconfig)).toContain('fake kubeconfig');
  });

  it('installs kroute\'s bundled agent instead, through the cluster\'s own Kubernetes provider', async () => {
    new kroute.DoksCluster('doks', { region: 'fra1', version: '1.33.1-do.0', nodePool: pool, bundledAgent: true });
    await cloud.settle();
    expect(cloud.get('doks-cluster').inputs).toMatchObject({ routingAgent: { enabled: false } });
    const k8sObjects = custom().filter((r) => r.type.startsWith('kubernetes:'));
    expect(k8sObjects.map((r) => r.name)).toContain('doks-agent-crd');
    for (const o of k8sObjects) expect(o.provider).toMatch(/pulumi:providers:kubernetes::doks-k8s::/);
  });

  it('refuses the managed and the bundled agent together, before creating anything', () => {
    expect(fieldsOf(() => new kroute.DoksCluster('both', { region: 'fra1', version: '1.33', nodePool: pool, managedRoutingAgent: true, bundledAgent: true })))
      .toEqual([['args.bundledAgent', 'Forbidden']]);
    expect(custom()).toEqual([]);
  });

  it('refuses overlapping VPC, pod and service ranges, naming both fields', () => {
    expect(() => new kroute.DoksCluster('o', { region: 'fra1', version: '1.33', nodePool: pool, vpcIpRange: '10.10.0.0/16', clusterSubnet: '10.10.128.0/17' }))
      .toThrow(/args.clusterSubnet: "10.10.128.0\/17" overlaps args.vpcIpRange \(10.10.0.0\/16\)/);
    expect(custom()).toEqual([]);
  });
});

describe('NatGatewayEgress (managed NAT)', () => {
  it('puts a public VPC NAT gateway in the VPC and exposes its gateway IP and egress IPs', async () => {
    const nat = new kroute.NatGatewayEgress('nat', { region: 'fra1', vpcUuid: 'vpc-1' });
    await cloud.settle();
    expect(cloud.get('nat-nat')).toMatchObject({ type: 'digitalocean:index/vpcNatGateway:VpcNatGateway', inputs: { region: 'fra1', size: 1, type: 'PUBLIC', vpcs: [{ vpcUuid: 'vpc-1', defaultGateway: false }] } });
    expect(urnOf('nat-nat')).toContain('kroute:index:NatGatewayEgress$digitalocean:index/vpcNatGateway:VpcNatGateway');
    expect(await valueOf(nat.gatewayIps)).toEqual(['10.10.0.2']);
    expect(await valueOf(nat.egressIps)).toEqual(['203.0.113.200']);
  });

  it('accepts bring-your-own egress IPs', async () => {
    const nat = new kroute.NatGatewayEgress('byo', { region: 'fra1', vpcUuid: 'vpc-1', egressIps: ['203.0.113.7'], size: 4 });
    await cloud.settle();
    expect(cloud.get('byo-nat').inputs).toMatchObject({ size: 4, egresses: [{ publicGateways: [{ ipv4: '203.0.113.7' }] }] });
    expect(await valueOf(nat.egressIps)).toEqual(['203.0.113.7']);
  });

  it('refuses a size outside 1..16, a bad IP and a VPC in another region, all at once', () => {
    expect(fieldsOf(() => new kroute.NatGatewayEgress('bad', { region: 'fra1', vpcUuid: 'v', vpcRegion: 'nyc3', size: 0, egressIps: ['999.1.1.1'] })))
      .toEqual([['args.size', 'Invalid'], ['args.egressIps[0]', 'Invalid'], ['args.vpcRegion', 'Invalid']]);
    expect(custom()).toEqual([]);
  });
});

describe('GatewayDropletEgress (self-managed NAT)', () => {
  const args = { region: 'fra1', vpcUuid: 'vpc-1', vpcIpRange: '10.10.0.0/16' };

  it('creates two gateway Droplets, Reserved IPs assigned by number, and a firewall that lets the VPC in', async () => {
    const gw = new kroute.GatewayDropletEgress('gw', args);
    await cloud.settle();
    expect(types().sort()).toEqual([
      'digitalocean:index/droplet:Droplet gw-gateway-0',
      'digitalocean:index/droplet:Droplet gw-gateway-1',
      'digitalocean:index/firewall:Firewall gw-firewall',
      'digitalocean:index/reservedIp:ReservedIp gw-ip-0',
      'digitalocean:index/reservedIp:ReservedIp gw-ip-1',
      'digitalocean:index/reservedIpAssignment:ReservedIpAssignment gw-ip-0-assignment',
      'digitalocean:index/reservedIpAssignment:ReservedIpAssignment gw-ip-1-assignment',
    ]);
    const droplet = cloud.get('gw-gateway-0').inputs;
    expect(droplet).toMatchObject({ region: 'fra1', vpcUuid: 'vpc-1', image: 'ubuntu-24-04-x64', userData: kroute.gatewayCloudConfig({ vpcIpRange: '10.10.0.0/16' }) });
    const assignment = cloud.get('gw-ip-1-assignment').inputs;
    expect(typeof assignment.dropletId).toBe('number');
    // The Reserved IP is the component's child, not the Droplet's, and has no dropletId: its lifetime is its own.
    expect(urnOf('gw-ip-0')).toMatch(/::kroute:index:GatewayDropletEgress\$digitalocean:index\/reservedIp:ReservedIp::gw-ip-0$/);
    expect(cloud.get('gw-ip-0').inputs.dropletId).toBeUndefined();
    const fw = cloud.get('gw-firewall').inputs as { inboundRules: unknown[]; dropletIds: unknown[] };
    expect(fw.inboundRules).toContainEqual({ protocol: 'icmp', sourceAddresses: ['10.10.0.0/16'] });
    expect(fw.dropletIds.every((d) => typeof d === 'number')).toBe(true);
    expect((await valueOf(gw.gatewayIps)).length).toBe(2);
    expect(await valueOf(gw.egressIps)).toEqual([expect.stringMatching(/^203\.0\.113\./), expect.stringMatching(/^203\.0\.113\./)]);
  });

  it('uses bring-your-own Reserved IPs and creates none', async () => {
    const gw = new kroute.GatewayDropletEgress('byo', { ...args, count: 4, reservedIps: ['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4'] });
    await cloud.settle();
    expect(custom().filter((r) => r.type.endsWith(':ReservedIp'))).toEqual([]);
    expect(await valueOf(gw.egressIps)).toEqual(['203.0.113.1', '203.0.113.2', '203.0.113.3', '203.0.113.4']);
  });

  it.each([
    ['no gateway', { count: 0 }, [['args.count', 'Invalid']]],
    ['more Reserved IPs than the default quota of 3', { count: 4 }, [['args.count', 'TooMany']]],
    ['a public VPC range', { vpcIpRange: '8.8.0.0/16' }, [['args.vpcIpRange', 'Invalid']]],
    ['Reserved IPs not one per gateway', { reservedIps: ['203.0.113.1'] }, [['args.reservedIps', 'Invalid']]],
    ['a VPC in another region', { vpcRegion: 'ams3' }, [['args.vpcRegion', 'Invalid']]],
  ])('refuses %s before creating anything', (_what, extra, expected) => {
    expect(fieldsOf(() => new kroute.GatewayDropletEgress('bad', { ...args, ...extra }))).toEqual(expected);
    expect(custom()).toEqual([]);
  });

  it('writes exactly the generated networking script into the cloud-config', () => {
    const config = YAML.parse(kroute.gatewayCloudConfig({ vpcIpRange: '10.10.0.0/16' }).replace(/^#cloud-config\n/, '')) as { write_files: Array<{ path: string; content: string }> };
    const script = config.write_files.find((f) => f.path === kroute.GATEWAY_SCRIPT_PATH);
    expect(script?.content).toBe(kroute.gatewayNetworkScript({ vpcIpRange: '10.10.0.0/16' }));
    expect(kroute.gatewayCloudConfig({ vpcIpRange: '10.10.0.0/16' })).toMatch(/^#cloud-config\n/);
  });
});

describe('EgressNodePool (per-workload egress)', () => {
  it('labels and taints a dedicated pool, and only its nodes get the StaticEgress Route', async () => {
    const nat = new kroute.NatGatewayEgress('nat', { region: 'fra1', vpcUuid: 'vpc-1' });
    const p = new kroute.EgressNodePool('pinned', { clusterId: 'cluster-1', poolName: 'egress', size: 's-2vcpu-4gb', gateways: nat.gatewayIps });
    await cloud.settle();
    expect(cloud.get('pinned-pool').inputs).toMatchObject({
      clusterId: 'cluster-1',
      name: 'egress',
      labels: { [kroute.EGRESS_POOL_LABEL]: 'egress' },
      taints: [{ key: kroute.EGRESS_POOL_LABEL, value: 'egress', effect: 'NoSchedule' }],
    });
    expect(cloud.get('pinned-egress-route').inputs).toEqual(
      core.staticEgressRoute('pinned-egress', { gateways: ['10.10.0.2'], scope: core.EgressScope.NODE_POOLS, nodePools: ['egress'] }),
    );
    expect(urnOf('pinned-egress')).toContain('kroute:index:EgressNodePool$kroute:index:StaticEgress::pinned-egress');
    expect(urnOf('pinned-egress-route')).toContain('kroute:index:StaticEgress$kubernetes:networking.doks.digitalocean.com/v1alpha1:Route');
    expect(await valueOf(p.routeName)).toBe('pinned-egress');
  });
});
