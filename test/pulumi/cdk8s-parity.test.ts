/**
 * The Pulumi and cdk8s faces give a user the same Kubernetes objects for the same props: what the Pulumi
 * components register (under the runtime mocks) equals what `Testing.synth()` gives for the cdk8s constructs.
 */
import * as pulumi from '@pulumi/pulumi';
import { Chart, Testing } from 'cdk8s';
import { FakeCloud } from './harness.js';

const cloud = new FakeCloud();
await pulumi.runtime.setMocks(cloud, 'kroute', 'test', false);
const kroute = await import('../../pulumi-provider/index.js');
const cdk = await import('../../constructs/index.js');

beforeEach(() => cloud.reset());

const registered = () => cloud.resources.filter((r) => r.custom).map((r) => r.inputs);
const chart = () => new Chart(Testing.app(), 'test', { namespace: 'apps' });

describe('the same objects from both faces', () => {
  it('RoutingAgent: CRD, RBAC and DaemonSet', async () => {
    const c = chart();
    new cdk.RoutingAgent(c, 'agent', { namespace: 'kroute', agent: { probeIntervalSeconds: 2, overrideFailMode: cdk.OverrideFailMode.OPEN }, maxUnavailable: '1' });
    new kroute.RoutingAgent('agent', { namespace: 'kroute', agent: { probeIntervalSeconds: 2, overrideFailMode: kroute.OverrideFailMode.OPEN }, maxUnavailable: '1' });
    await cloud.settle();
    expect(registered()).toEqual(Testing.synth(c));
    expect(registered()).toHaveLength(10 + 13); // the agent's 10 (Namespace, CRD, RBAC, admission policy and binding, DaemonSet), per-node reporting's 13 (docs/status.md)
  });

  it('RoutingAgent in managed mode: nothing', async () => {
    const c = chart();
    new cdk.RoutingAgent(c, 'agent', { managed: true });
    new kroute.RoutingAgent('agent', { managed: true });
    await cloud.settle();
    expect(registered()).toEqual(Testing.synth(c));
    expect(registered()).toEqual([]);
  });

  it('Route with labels and a node-pool selector', async () => {
    const c = chart();
    new cdk.Route(c, 'r', { name: 'vpn', destinations: ['10.20.0.0/16', '1.2.3.4/5'], gateways: ['10.114.0.3'], nodeSelector: cdk.NodeSelector.nodePool('a', 'b'), labels: { team: 'net' } });
    new kroute.Route('r', { routeName: 'vpn', destinations: ['10.20.0.0/16', '1.2.3.4/5'], gateways: ['10.114.0.3'], nodeSelector: kroute.NodeSelectors.nodePool('a', 'b'), labels: { team: 'net' } });
    await cloud.settle();
    expect(registered()).toEqual(Testing.synth(c));
  });

  it.each([
    ['every node', {}, {}],
    ['one node pool', { scope: cdk.EgressScope.NODE_POOLS, nodePools: ['egress'] }, { scope: kroute.EgressScope.NODE_POOLS, nodePools: ['egress'] }],
    ['all but the ingress pool', { scope: cdk.EgressScope.EXCEPT_NODE_POOLS, nodePools: ['lb'] }, { scope: kroute.EgressScope.EXCEPT_NODE_POOLS, nodePools: ['lb'] }],
  ])('StaticEgress on %s', async (_what, cdkScope, pulumiScope) => {
    const c = chart();
    new cdk.StaticEgress(c, 'e', { name: 'egress', gateways: ['10.114.0.3', '10.114.0.4'], ...cdkScope });
    new kroute.StaticEgress('e', { routeName: 'egress', gateways: ['10.114.0.3', '10.114.0.4'], ...pulumiScope });
    await cloud.settle();
    expect(registered()).toEqual(Testing.synth(c));
  });

  it('StaticEgress whose gateway is an Output ends up as the same object', async () => {
    const c = chart();
    new cdk.StaticEgress(c, 'e', { name: 'egress', gateways: ['10.10.0.2'] });
    new kroute.StaticEgress('e', { routeName: 'egress', gateways: [pulumi.output('10.10.0.2')] });
    await cloud.settle();
    expect(registered()).toEqual(Testing.synth(c));
  });
});
