/**
 * RoutingAgent, Route and StaticEgress under Pulumi's runtime mocks (the engine cannot run here): the resource
 * graph, the objects (exactly the core's, and exactly what the cdk8s face synthesizes), outputs and errors.
 */
import { jest } from '@jest/globals';
import * as pulumi from '@pulumi/pulumi';
import { FakeCloud, urnOf, valueOf } from './harness.js';

const cloud = new FakeCloud();
// Mocks first, then the code under test (Pulumi reads the runtime settings when resources are created).
await pulumi.runtime.setMocks(cloud, 'kroute', 'test', false);
const kroute = await import('../../pulumi-provider/index.js');
const core = await import('../../core/index.js');
const k8s = await import('@pulumi/kubernetes');

const custom = () => cloud.resources.filter((r) => r.custom);
const byName = (name: string) => cloud.get(name).inputs;

beforeEach(() => cloud.reset());

describe('RoutingAgent component', () => {
  it('registers the CRD, RBAC and DaemonSet as typed resources, children of the component, in apply order', async () => {
    new kroute.RoutingAgent('agent', {});
    await cloud.settle();
    expect(custom().map((r) => `${r.type} ${r.name}`)).toEqual([
      'kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition agent-crd',
      'kubernetes:core/v1:ServiceAccount agent-service-account',
      'kubernetes:rbac.authorization.k8s.io/v1:ClusterRole agent-cluster-role',
      'kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding agent-cluster-role-binding',
      'kubernetes:rbac.authorization.k8s.io/v1:Role agent-role',
      'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding agent-role-binding',
      'kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy agent-node-restriction-policy',
      'kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding agent-node-restriction-binding',
      'kubernetes:apps/v1:DaemonSet agent-daemon-set',
      'kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition agent-routereports.kroute.dev-crd',
      'kubernetes:rbac.authorization.k8s.io/v1:ClusterRole agent-kroute-agent-report-cluster-role',
      'kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding agent-kroute-agent-report-cluster-role-binding',
      'kubernetes:rbac.authorization.k8s.io/v1:Role agent-kroute-agent-report-role',
      'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding agent-kroute-agent-report-role-binding',
      'kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy agent-kroute-agent-report-restriction-node-restriction-policy',
      'kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding agent-kroute-agent-report-restriction-node-restriction-binding',
      'kubernetes:core/v1:ServiceAccount agent-kroute-controller-service-account',
      'kubernetes:rbac.authorization.k8s.io/v1:ClusterRole agent-kroute-controller-cluster-role',
      'kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding agent-kroute-controller-cluster-role-binding',
      'kubernetes:rbac.authorization.k8s.io/v1:Role agent-kroute-controller-role',
      'kubernetes:rbac.authorization.k8s.io/v1:RoleBinding agent-kroute-controller-role-binding',
      'kubernetes:apps/v1:Deployment agent-kroute-controller-deployment',
    ]);
    expect(urnOf('agent-crd')).toContain('::kroute:index:RoutingAgent$kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition::agent-crd');
    expect(urnOf('agent-daemon-set')).toContain('kroute:index:RoutingAgent$kubernetes:apps/v1:DaemonSet');
  });

  it('passes the core\'s objects through unchanged', async () => {
    const args = { namespace: 'kroute', agent: { probeIntervalSeconds: 2, overrideFailMode: kroute.OverrideFailMode.OPEN }, celValidation: false };
    new kroute.RoutingAgent('agent', args);
    await cloud.settle();
    const r = core.resolveAgentManifestOptions({ namespace: 'kroute', agent: { probeIntervalSeconds: 2, overrideFailMode: 'open' } });
    if (!r.ok) throw new Error('core rejected the options');
    const expected = core.installManifests(r.value, { celValidation: false });
    expect(expected.map((m) => m.kind).slice(0, 2)).toEqual(['Namespace', 'CustomResourceDefinition']);
    expect(custom().map((x) => x.inputs)).toEqual(expected);
  });

  it('podMonitor: true adds a PodMonitor (the core\'s object) after the DaemonSet; a namespace of its own is created first', async () => {
    new kroute.RoutingAgent('agent', { namespace: 'kroute-system', podMonitor: true, podMonitorLabels: { release: 'prometheus' } });
    await cloud.settle();
    const types = custom().map((r) => `${r.type} ${r.name}`);
    expect(types[0]).toBe('kubernetes:core/v1:Namespace agent-namespace');
    expect(types.indexOf('kubernetes:monitoring.coreos.com/v1:PodMonitor agent-pod-monitor')).toBe(types.indexOf('kubernetes:apps/v1:DaemonSet agent-daemon-set') + 1);
    const r = core.resolveAgentManifestOptions({ namespace: 'kroute-system', podMonitor: true, podMonitorLabels: { release: 'prometheus' } });
    if (!r.ok) throw new Error('core rejected the options');
    expect(byName('agent-pod-monitor')).toEqual(core.agentPodMonitor(r.value));
  });

  it('does not await the agent\'s rollout unless asked (pulumi.com/skipAwait on the DaemonSet and the controller\'s Deployment only)', async () => {
    new kroute.RoutingAgent('quick', {});
    new kroute.RoutingAgent('waits', { namespace: 'kroute', awaitRollout: true });
    await cloud.settle();
    const annotationsOf = (x: { inputs: Record<string, unknown> } | undefined) => (x?.inputs['metadata'] as { annotations?: Record<string, string> } | undefined)?.annotations;
    const annotations = (name: string) => annotationsOf(custom().find((x) => x.name === name));
    expect(annotations('quick-daemon-set')).toEqual({ 'pulumi.com/skipAwait': 'true' });
    expect(annotations('waits-daemon-set')).toBeUndefined();
    expect(annotations('quick-kroute-controller-deployment')).toEqual({ 'pulumi.com/skipAwait': 'true' });
    for (const x of custom().filter((c) => !['kubernetes:apps/v1:DaemonSet', 'kubernetes:apps/v1:Deployment'].includes(c.type))) expect(annotationsOf(x)?.['pulumi.com/skipAwait']).toBeUndefined();
  });


  it('emits nothing in managed mode, and Routes still go beside it', async () => {
    const agent = new kroute.RoutingAgent('agent', { managed: true });
    new kroute.Route('vpn', { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3'] }, { dependsOn: [agent] });
    await cloud.settle();
    expect(custom().map((r) => r.type)).toEqual(['kubernetes:networking.doks.digitalocean.com/v1alpha1:Route']);
    expect(await valueOf(agent.objects)).toEqual([]);
    expect(await valueOf(agent.crdName)).toBe('routes.networking.doks.digitalocean.com');
  });

  it('gives every child the explicit Kubernetes provider, through opts.provider or opts.providers', async () => {
    const provider = new k8s.Provider('doks', { kubeconfig: 'fake' });
    new kroute.RoutingAgent('a', {}, { provider });
    new kroute.StaticEgress('e', { gateways: ['10.114.0.3'] }, { providers: { kubernetes: provider } });
    await cloud.settle();
    const children = custom().filter((r) => r.name !== 'doks');
    expect(children).toHaveLength(10 + 13); // + per-node reporting's 13 objects (docs/status.md)
    for (const c of children) expect(c.provider).toMatch(/pulumi:providers:kubernetes::doks::doks-id$/);
  });

  it('refuses bad knobs, naming the field, before registering any Kubernetes object', () => {
    expect(() => new kroute.RoutingAgent('bad', { namespace: 'Not_A_Namespace', maxUnavailable: 'lots' })).toThrow(kroute.ComponentValidationError);
    try {
      new kroute.RoutingAgent('bad2', { namespace: 'Not_A_Namespace' });
    } catch (e) {
      expect(e).toBeInstanceOf(pulumi.ResourceError);
      expect((e as InstanceType<typeof kroute.ComponentValidationError>).errors.map((x) => [x.field, x.code])).toEqual([['args.namespace', 'Invalid']]);
    }
    expect(custom()).toEqual([]);
  });

  it('warns when only one of DOKS\'s table 135 / priority 15135 pair is moved', async () => {
    const warn = jest.spyOn(pulumi.log, 'warn').mockResolvedValue();
    new kroute.RoutingAgent('clash', { agent: { symmetricTable: 200 } });
    new kroute.RoutingAgent('fine', { agent: { symmetricTable: 200, symmetricRulePriority: 15200 } });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatch(/table 200 with rule priority 15135.*table 135 with priority 15135/);
    expect(warn.mock.calls[0]?.[1]).toBeInstanceOf(kroute.RoutingAgent);
    warn.mockRestore();
    await cloud.settle();
  });
});

describe('Route component', () => {
  it('registers the core-validated Route in canonical form', async () => {
    const route = new kroute.Route('basic', { destinations: ['1.2.3.4/5'], gateways: ['10.114.0.3'], labels: { team: 'net' } });
    await cloud.settle();
    expect(byName('basic-route')).toEqual(core.routeObject('basic', { destinations: ['0.0.0.0/5'], gateways: ['10.114.0.3'] }, { labels: { team: 'net' } }));
    expect(cloud.get('basic-route').type).toBe('kubernetes:networking.doks.digitalocean.com/v1alpha1:Route');
    expect(urnOf('basic-route')).toContain('kroute:index:Route$kubernetes:networking.doks.digitalocean.com/v1alpha1:Route');
    expect(await valueOf(route.destinations)).toEqual(['0.0.0.0/5']);
    expect(await valueOf(route.routeName)).toBe('basic');
  });

  it('takes a gateway that is an Output (a Droplet\'s private IP) and validates it when known', async () => {
    const route = new kroute.Route('via-droplet', { routeName: 'egress', destinations: ['0.0.0.0/0'], gateways: [pulumi.output('10.114.0.3'), '10.114.0.4'] });
    await cloud.settle();
    expect(await valueOf(route.gateways)).toEqual(['10.114.0.3', '10.114.0.4']);
    expect(byName('via-droplet-route')).toEqual(core.routeObject('egress', { destinations: ['0.0.0.0/0'], gateways: ['10.114.0.3', '10.114.0.4'] }));
  });

  it('rejects a known bad gateway at construction, even when another gateway is an Output', () => {
    const make = () => new kroute.Route('bad', { destinations: ['0.0.0.0/0'], gateways: [pulumi.output('10.114.0.3'), '10.114.0.999'] });
    expect(make).toThrow(/Route "bad" is invalid:\n {2}- spec.gateways\[1\]: "10.114.0.999" is not/);
    expect(custom()).toEqual([]);
  });
  // An Output that turns out bad fails the deployment: test/pulumi/late-failure.test.ts (a real Node process).
});

describe('StaticEgress component', () => {
  const cases = [
    { scope: undefined, nodePools: undefined },
    { scope: kroute.EgressScope.NODE_POOLS, nodePools: ['egress'] },
    { scope: kroute.EgressScope.EXCEPT_NODE_POOLS, nodePools: ['ingress'] },
  ];
  it.each(cases)('registers the core preset Route (%o)', async ({ scope, nodePools }) => {
    const opts = { gateways: ['10.114.0.3', '10.114.0.4'], ...(scope ? { scope } : {}), ...(nodePools ? { nodePools } : {}) };
    const egress = new kroute.StaticEgress('egress', opts);
    await cloud.settle();
    expect(byName('egress-route')).toEqual(core.staticEgressRoute('egress', opts));
    expect(await valueOf(egress.destinations)).toEqual(['0.0.0.0/0']);
  });

  it('selects with a selector built by the same helpers as the cdk8s face', async () => {
    new kroute.StaticEgress('sel', { gateways: ['10.114.0.3'], scope: kroute.EgressScope.SELECTOR, nodeSelector: kroute.NodeSelectors.labels({ egress: 'yes' }) });
    await cloud.settle();
    expect(byName('sel-route')).toEqual(core.staticEgressRoute('sel', { gateways: ['10.114.0.3'], scope: core.EgressScope.SELECTOR, nodeSelector: core.labelsSelector({ egress: 'yes' }) }));
  });

  it('checks the scope at construction even when the gateways are Outputs', () => {
    expect(() => new kroute.StaticEgress('np', { gateways: [pulumi.output('10.114.0.3')], scope: kroute.EgressScope.NODE_POOLS }))
      .toThrow(/args.nodePools: must name at least one node pool/);
    expect(custom()).toEqual([]);
  });

  it('warns about a default-route override on a non-VPC-native cluster with a network load balancer', async () => {
    const warn = jest.spyOn(pulumi.log, 'warn').mockResolvedValue();
    const e = new kroute.StaticEgress('nlb', { gateways: ['10.114.0.3'], vpcNativeCluster: false, networkLoadBalancer: true });
    new kroute.StaticEgress('nlb-safe', { gateways: ['10.114.0.3'], vpcNativeCluster: false, networkLoadBalancer: true, scope: kroute.EgressScope.EXCEPT_NODE_POOLS, nodePools: ['lb'] });
    await valueOf(e.destinations);
    await cloud.settle();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]?.[0]).toMatch(/not VPC-native.*network load balancer/);
    expect(warn.mock.calls[0]?.[1]).toBe(e);
    warn.mockRestore();
  });
});
