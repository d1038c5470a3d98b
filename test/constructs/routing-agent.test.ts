import { Chart, Testing } from 'cdk8s';
import { RoutingAgent } from '../../constructs/index.js';

type Obj = { kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- synthesized YAML is untyped; tests walk it freely
type Any = any;
const synth = (props: ConstructorParameters<typeof RoutingAgent>[2] = {}, namespace?: string): Obj[] => {
  const c = new Chart(Testing.app(), 'test', namespace ? { namespace } : {});
  new RoutingAgent(c, 'agent', props);
  return Testing.synth(c) as Obj[];
};
const daemonSet = (objs: Obj[]): Any => objs.find((o) => o.kind === 'DaemonSet');

describe('RoutingAgent construct', () => {
  it('emits the CRD, RBAC and DaemonSet in apply order', () => {
    expect(synth().map((o) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`)).toEqual([
      'CustomResourceDefinition//routes.networking.doks.digitalocean.com',
      'ServiceAccount/kube-system/kroute-agent',
      'ClusterRole//kroute-agent',
      'ClusterRoleBinding//kroute-agent',
      'Role/default/kroute-agent-apiserver-endpoints',
      'RoleBinding/default/kroute-agent-apiserver-endpoints',
      'DaemonSet/kube-system/kroute-agent',
    ]);
  });

  it('marks the DaemonSet so Pulumi does not await its rollout, unless awaitRollout (as the Pulumi face)', () => {
    expect(daemonSet(synth()).metadata.annotations).toEqual({ 'pulumi.com/skipAwait': 'true' });
    expect(daemonSet(synth({ awaitRollout: true })).metadata.annotations).toBeUndefined();
  });

  it('emits nothing of its own in managed mode (DigitalOcean runs the agent and ships the CRD)', () => {
    const c = new Chart(Testing.app(), 'test');
    const agent = new RoutingAgent(c, 'agent', { managed: true });
    agent.addRoute('r', { name: 'basic', destinations: ['1.2.3.4/5'], gateways: ['10.114.0.3'] });
    expect(Testing.synth(c).map((o: Obj) => o.kind)).toEqual(['Route']);
  });

  it('runs the agent as DigitalOcean documents and with least privilege', () => {
    const ds = daemonSet(synth());
    const pod = ds.spec.template.spec;
    const ctr = pod.containers[0];
    expect(pod.hostNetwork).toBe(true);
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    expect(ctr.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'NET_RAW'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(ctr.env).toEqual([{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }]);
    expect(ctr.ports.map((p: Any) => [p.name, p.containerPort])).toEqual([['metrics', 9180], ['health', 9181]]);
    expect(ctr.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health' });
    expect(ctr.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health' });
    expect(ctr.resources).toEqual({ requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '200m', memory: '128Mi' } });
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
    expect(ctr.image).toBe('ghcr.io/kroute/agent:0.1.0');
    expect(ctr.args).toEqual(['--sysctl-root=/host/proc/sys']);
    expect(ctr.volumeMounts).toContainEqual({ name: 'host-sysctl-net', mountPath: '/host/proc/sys/net' });
  });

  it('passes every knob through: image, namespace, probe interval, interface, table and rule', () => {
    const objs = synth({
      namespace: 'kroute-system',
      image: { registry: 'registry.example.com', repository: 'net/kroute-agent', digest: `sha256:${'a'.repeat(64)}` },
      agent: { probeIntervalSeconds: 5, publicInterface: 'ens3', symmetricTable: 200, symmetricRulePriority: 15200 },
    });
    const ds = daemonSet(objs);
    expect(ds.metadata.namespace).toBe('kroute-system');
    expect(ds.spec.template.spec.containers[0].image).toBe(`registry.example.com/net/kroute-agent@sha256:${'a'.repeat(64)}`);
    expect(ds.spec.template.spec.containers[0].args).toEqual([
      '--probe-interval-seconds=5',
      '--public-interface=ens3',
      '--symmetric-table=200',
      '--symmetric-rule-priority=15200',
      '--sysctl-root=/host/proc/sys',
    ]);
    const crb: Any = objs.find((o) => o.kind === 'ClusterRoleBinding');
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kroute-agent', namespace: 'kroute-system' }]);
  });

  it('grants only the verbs the agent uses', () => {
    const role: Any = synth().find((o) => o.kind === 'ClusterRole');
    expect(role.rules).toEqual([
      { apiGroups: ['networking.doks.digitalocean.com'], resources: ['routes'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: ['networking.doks.digitalocean.com'], resources: ['routes/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
  });

  it('keeps a chart namespace off cluster-scoped objects', () => {
    const objs = synth({}, 'apps');
    for (const o of objs.filter((x) => ['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(x.kind))) {
      expect(o.metadata.namespace).toBeUndefined();
    }
  });

  it('throws at synth time naming each bad knob and its value', () => {
    expect(() => synth({ namespace: 'Kube_System', agent: { probeIntervalSeconds: 0 }, image: { tag: 'bad tag' } })).toThrow(
      'RoutingAgent "test/agent" is invalid:\n' +
        '  - props.namespace: "Kube_System" is not a valid namespace name (RFC 1123 label)\n' +
        '  - props.image.tag: "bad tag" is not a valid tag\n' +
        '  - props.agent.probeIntervalSeconds: "0" must be a number from 0.1 to 3600',
    );
  });
});
