import { Chart, Testing } from 'cdk8s';
import { RoutingAgent, TolerationOperator } from '../../constructs/index.js';

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
      'ValidatingAdmissionPolicy//kroute-agent-node-restriction',
      'ValidatingAdmissionPolicyBinding//kroute-agent-node-restriction',
      'DaemonSet/kube-system/kroute-agent',
      'CustomResourceDefinition//routereports.kroute.dev',
      'ClusterRole//kroute-agent-report',
      'ClusterRoleBinding//kroute-agent-report',
      'Role/kube-system/kroute-agent-report',
      'RoleBinding/kube-system/kroute-agent-report',
      'ValidatingAdmissionPolicy//kroute-agent-report-restriction',
      'ValidatingAdmissionPolicyBinding//kroute-agent-report-restriction',
      'ServiceAccount/kube-system/kroute-controller',
      'ClusterRole//kroute-controller',
      'ClusterRoleBinding//kroute-controller',
      'Role/kube-system/kroute-controller',
      'RoleBinding/kube-system/kroute-controller',
      'Deployment/kube-system/kroute-controller',
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
    expect(ctr.env).toEqual([
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      // V8's heap bounded from the memory limit (docs/memory.md).
      { name: 'NODE_OPTIONS', value: '--max-old-space-size=76 --max-semi-space-size=1' },
    ]);
    expect(ctr.ports.map((p: Any) => [p.name, p.containerPort])).toEqual([['metrics', 9180], ['health', 9181]]);
    // Health listens on loopback (closed by default): the kubelet, in the host's namespace, probes 127.0.0.1.
    expect(ctr.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'health', host: '127.0.0.1' });
    expect(ctr.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'health', host: '127.0.0.1' });
    expect(ctr.resources).toEqual({ requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '200m', memory: '192Mi' } });
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
    expect(ctr.image).toBe('localhost/kroute/agent:0.1.0');
    expect(ctr.args).toEqual(['--sysctl-root=/host/proc/sys', '--status-reports=node']);
    // Only the sysctl files the agent writes, never the whole of /proc/sys/net.
    expect(ctr.volumeMounts.map((m: { mountPath: string }) => m.mountPath)).toEqual([
      '/host/proc/sys/net/ipv4/fib_multipath_hash_policy', '/host/proc/sys/net/ipv6/fib_multipath_hash_policy', '/host/proc/sys/net/ipv4/fib_multipath_use_neigh', '/tmp',
    ]);
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
      '--status-reports=node',
      '--lease-namespace=kroute-system',
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

  it('runs only on linux/amd64 nodes (the image is built for that platform); podNodeSelector adds to it or overrides the arch', () => {
    expect(daemonSet(synth()).spec.template.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' });
    expect(daemonSet(synth({ podNodeSelector: { 'doks.digitalocean.com/node-pool': 'egress', 'kubernetes.io/arch': 'arm64' } })).spec.template.spec.nodeSelector).toEqual({
      'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64', 'doks.digitalocean.com/node-pool': 'egress',
    });
  });

  it("installs into the chart's own namespace and creates it (first); kube-system is never emitted as a Namespace", () => {
    const objs = synth({}, 'net-routing');
    expect(objs[0]).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'net-routing' } });
    expect(objs[0]?.metadata.namespace).toBeUndefined();
    expect(objs.filter((o) => ['ServiceAccount', 'DaemonSet', 'Deployment'].includes(o.kind)).map((o) => o.metadata.namespace)).toEqual(['net-routing', 'net-routing', 'net-routing', 'net-routing']);
    const crb: Any = objs.find((o) => o.kind === 'ClusterRoleBinding');
    expect(crb.subjects).toEqual([{ kind: 'ServiceAccount', name: 'kroute-agent', namespace: 'net-routing' }]);
    // The endpoints Role reads the kubernetes Endpoints, which live in default whatever the chart's namespace.
    expect(objs.filter((o) => o.kind === 'Role' && o.metadata.name.endsWith('-apiserver-endpoints')).map((o) => o.metadata.namespace)).toEqual(['default']);
    // The prop wins over the chart; a system namespace is used, not created; createNamespace: false skips it.
    expect(synth({ namespace: 'kube-system' }, 'net-routing').map((o) => o.kind)).not.toContain('Namespace');
    expect(synth({ createNamespace: false }, 'net-routing').map((o) => o.kind)).not.toContain('Namespace');
    expect(daemonSet(synth({ namespace: 'kroute-system' }, 'net-routing')).metadata.namespace).toBe('kroute-system');
  });

  it('passes tolerations, pod annotations and image pull secrets to the pods', () => {
    const pod = daemonSet(synth({
      tolerations: [{ key: 'dedicated', operator: TolerationOperator.EQUAL, value: 'net', effect: 'NoSchedule' }],
      podAnnotations: { 'example.com/team': 'net' },
      imagePullSecrets: ['registry-creds'],
    })).spec.template;
    expect(pod.spec.tolerations).toEqual([{ key: 'dedicated', operator: 'Equal', value: 'net', effect: 'NoSchedule' }]);
    expect(pod.metadata.annotations).toEqual({ 'example.com/team': 'net' });
    expect(pod.spec.imagePullSecrets).toEqual([{ name: 'registry-creds' }]);
    expect(daemonSet(synth()).spec.template.metadata.annotations).toBeUndefined();
  });

  it('emits a PodMonitor for the metrics port when asked, and refuses one without a metrics port', () => {
    expect(synth().map((o) => o.kind)).not.toContain('PodMonitor');
    const pm: Any = synth({ podMonitor: true, podMonitorLabels: { release: 'prometheus' } }).find((o) => o.kind === 'PodMonitor');
    expect(pm).toMatchObject({
      apiVersion: 'monitoring.coreos.com/v1',
      metadata: { name: 'kroute-agent', namespace: 'kube-system', labels: { release: 'prometheus' } },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'kroute', 'app.kubernetes.io/component': 'agent' } }, podMetricsEndpoints: [{ port: 'metrics', path: '/metrics' }] },
    });
    // The selector picks the DaemonSet's pods, and the port it names is the container's.
    const ds = daemonSet(synth({ podMonitor: true }));
    expect(ds.spec.template.metadata.labels).toMatchObject(pm.spec.selector.matchLabels);
    expect(ds.spec.template.spec.containers[0].ports.map((p: Any) => p.name)).toContain('metrics');
    expect(() => synth({ podMonitor: true, agent: { metricsPort: 0 } })).toThrow('props.podMonitor: true needs the metrics port (agent.metricsPort is 0)');
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
