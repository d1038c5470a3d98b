import { Testing } from 'cdk8s';
import { stringify } from 'yaml';
import { routeObject } from '../../core/index.js';
import { ExampleChart } from '../../examples/cdk8s/main.js';
import { doksExamples } from '../fixtures/doks-examples.js';
import { schemaProblems } from '../schema-check.js';

type Obj = { apiVersion: string; kind: string; metadata: { name: string } };
const synthExample = (): Obj[] => Testing.synth(new ExampleChart(Testing.app(), 'kroute')) as Obj[];

describe('synthesized manifests against the Kubernetes OpenAPI schemas', () => {
  it.each(synthExample().map((o) => [`${o.kind}/${o.metadata.name}`, o]))('%s conforms to the schema of its kind', (_n, obj) => {
    expect(schemaProblems(obj)).toEqual([]);
  });

  it('catches a malformed object (the check can fail)', () => {
    const ds = synthExample().find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: { hostNetwork: unknown } } } };
    ds.spec.template.spec.hostNetwork = 'yes';
    expect(schemaProblems(ds as unknown as Obj).join()).toMatch(/hostNetwork must be boolean/);
    expect(schemaProblems(routeObject('x', { destinations: [], gateways: ['10.0.0.1'] })).join()).toMatch(/destinations must NOT have fewer than 1 items/);
  });

  it.each(doksExamples().map((e) => [e.file, e.object]))("DigitalOcean's example %s conforms to kroute's CRD schema", (_f, obj) => {
    expect(schemaProblems(obj as Obj)).toEqual([]);
  });
});

describe('the cdk8s example', () => {
  it('synthesizes the agent, a basic, an ECMP and a node-pool Route and a StaticEgress', () => {
    const objs = synthExample();
    expect(objs.filter((o) => o.kind === 'Route').map((o) => o.metadata.name)).toEqual(['basic', 'ecmp', 'vpn-worker-pool', 'static-egress']);
    expect(objs.filter((o) => o.kind !== 'Route').map((o) => o.kind)).toEqual([
      'CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding',
      'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'DaemonSet',
      // per-node reporting (docs/status.md)
      'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding',
      'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Deployment',
    ]);
  });

  it('matches the reviewed YAML snapshot', () => {
    expect(synthExample().map((o) => stringify(o)).join('---\n')).toMatchSnapshot();
  });
});
