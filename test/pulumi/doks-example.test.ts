/**
 * examples/pulumi-doks run as a program under Pulumi's runtime mocks, with both egress choices of its config
 * (`egress`: the managed NAT gateway by default, `droplets` for gateway Droplets). UNDER MOCKS: the DigitalOcean API
 * cannot be reached from here, so FakeCloud (./harness.ts, labelled a fake) accepts every resource and invents its
 * outputs; what is checked is the program's resource graph, the Route it builds from the gateways' addresses and the
 * IPs it exports. Each run is its own Node process: the example is a module with top-level resources, evaluated once.
 */
import { compile, finished, startScript } from './compiled.js';

interface Run {
  resources: Array<{ type: string; name: string; inputs: Record<string, unknown> }>;
  egressIps: string[];
  gatewayIps: string[];
}

const PROGRAM = `
import * as pulumi from '@pulumi/pulumi';
import { FakeCloud } from './test/pulumi/harness.js';
const choice = process.argv[2];
if (choice) pulumi.runtime.setConfig('kroute-doks:egress', choice);
// FAKE cloud (not DigitalOcean's behaviour): see test/pulumi/harness.ts.
const cloud = new FakeCloud();
await pulumi.runtime.setMocks(cloud, 'kroute-doks', 'test', false);
const example = await import('./examples/pulumi-doks/index.js');
const value = (o) => new Promise((resolve) => o.apply(resolve));
const exported = { egressIps: await value(example.egressIps), gatewayIps: await value(example.gatewayIps) };
process.once('beforeExit', () => {
  console.log(JSON.stringify({ ...exported, resources: cloud.resources.map(({ type, name, inputs }) => ({ type, name, inputs })) }));
});
`;

async function runExample(choice?: string): Promise<Run> {
  const r = await finished(startScript('doks-example.mjs', PROGRAM, choice ? [choice] : []));
  if (r.code !== 0) throw new Error(`the example failed (${r.code}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Run;
}

const custom = (r: Run) => r.resources.filter((x) => !x.type.startsWith('kroute:') && x.type !== 'pulumi:pulumi:Stack');
const routeOf = (r: Run) => {
  const route = r.resources.find((x) => x.type === 'kubernetes:networking.doks.digitalocean.com/v1alpha1:Route');
  if (!route) throw new Error(`no Route registered: ${r.resources.map((x) => x.name).join(', ')}`);
  return route.inputs as { metadata: { name: string }; spec: { destinations: string[]; gateways: string[]; nodeSelector?: unknown } };
};

let nat: Run;
let droplets: Run;

beforeAll(async () => {
  await compile();
  [nat, droplets] = await Promise.all([runExample(), runExample('droplets')]);
}, 180_000);

describe('examples/pulumi-doks under Pulumi\'s mocks (FAKE DigitalOcean API)', () => {
  it('by default: a VPC, a VPC-native cluster with DigitalOcean\'s routing agent, a managed NAT gateway, one Route through it', () => {
    // Two explicit Kubernetes providers from the cluster's kubeconfig: DoksCluster's own, and addStaticEgress's.
    expect(custom(nat).map((x) => `${x.type} ${x.name}`).sort()).toEqual([
      'digitalocean:index/kubernetesCluster:KubernetesCluster doks-cluster',
      'digitalocean:index/vpc:Vpc doks-vpc',
      'digitalocean:index/vpcNatGateway:VpcNatGateway egress-nat',
      'kubernetes:networking.doks.digitalocean.com/v1alpha1:Route egress-static-egress-route',
      'pulumi:providers:kubernetes doks-k8s',
      'pulumi:providers:kubernetes egress-k8s',
    ]);
    const cluster = custom(nat).find((x) => x.type === 'digitalocean:index/kubernetesCluster:KubernetesCluster');
    expect(cluster?.inputs).toMatchObject({ region: 'fra1', version: '1.33.1-do.0', clusterSubnet: '10.244.0.0/16', serviceSubnet: '10.245.0.0/16', routingAgent: { enabled: true } });
    // The managed agent: kroute installs neither its CRD nor its agent.
    expect(nat.resources.some((x) => x.type.includes('CustomResourceDefinition') || x.type.includes('DaemonSet'))).toBe(false);
    // FakeCloud's NAT gateway answers gateway IP 10.10.0.2 and egress IP 203.0.113.200.
    expect(routeOf(nat).spec).toMatchObject({ destinations: ['0.0.0.0/0'], gateways: ['10.10.0.2'] });
    expect(nat.gatewayIps).toEqual(['10.10.0.2']);
    expect(nat.egressIps).toEqual(['203.0.113.200']);
  });

  it('with egress=droplets: two gateway Droplets with Reserved IPs and a firewall, the Route over both Droplets\' VPC addresses', () => {
    const count = (t: string) => custom(droplets).filter((x) => x.type === t).length;
    expect(count('digitalocean:index/droplet:Droplet')).toBe(2);
    expect(count('digitalocean:index/reservedIp:ReservedIp')).toBe(2);
    expect(count('digitalocean:index/reservedIpAssignment:ReservedIpAssignment')).toBe(2);
    expect(count('digitalocean:index/firewall:Firewall')).toBe(1);
    expect(count('digitalocean:index/vpcNatGateway:VpcNatGateway')).toBe(0);
    expect(droplets.gatewayIps).toHaveLength(2);
    expect(routeOf(droplets).spec.gateways).toEqual([...droplets.gatewayIps].sort());
    expect(droplets.egressIps).toHaveLength(2);
    for (const ip of droplets.egressIps) expect(ip).toMatch(/^203\.0\.113\.\d+$/);
  });
});
