/**
 * The Helm chart through a real helm (v3.22.0, built from the Go module proxy: test/cluster/helm.ts): `helm lint`
 * passes; `helm template` with default values renders exactly the core's objects (the install minus the Namespace,
 * which `helm install --create-namespace` makes); values reach the objects as the same core options would; bad
 * values are refused by name (values.schema.json, from the core's option table). Needs Go; installing the chart into
 * a real API server is install-e2e.test.ts.
 */
import { parseAllDocuments } from 'yaml';
import { INSTALL_NAMESPACE, installManifests, resolveAgentManifestOptions, type AgentManifestOptions } from '../../core/index.js';
import { CHART_DIR } from '../../deploy/main.js';
import { startHelm, type Helm } from '../cluster/helm.js';
import { requireGoOrSkip } from '../cluster/prereq.js';

const haveGo = await requireGoOrSkip();
const d = haveGo ? describe : describe.skip;

type Obj = { kind: string; metadata: { name: string; namespace?: string; annotations?: Record<string, string> }; [k: string]: unknown };
const KUBE_VERSION = '1.34.10';
const DIGEST = `sha256:${'b'.repeat(64)}`;

function core(o: AgentManifestOptions, withNamespace = false): Obj[] {
  const r = resolveAgentManifestOptions(o);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return JSON.parse(JSON.stringify(installManifests(r.value))).filter((m: Obj) => withNamespace || m.kind !== 'Namespace');
}
const byKey = (objs: Obj[]): Obj[] => [...objs].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));

d('the Helm chart with a real helm (needs Go)', () => {
  let helm: Helm | undefined;
  const h = (): Helm => {
    if (!helm) throw new Error('helm did not build');
    return helm;
  };
  const template = async (...args: string[]): Promise<Obj[]> => {
    const r = await h().run(['template', 'kroute', CHART_DIR, '--namespace', INSTALL_NAMESPACE, '--kube-version', KUBE_VERSION, ...args]);
    if (r.code !== 0) throw new Error(`helm template ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
    return parseAllDocuments(r.stdout).map((x) => x.toJSON() as Obj).filter((x) => x);
  };
  const templateError = async (...args: string[]): Promise<string> => {
    const r = await h().run(['template', 'kroute', CHART_DIR, '--namespace', INSTALL_NAMESPACE, '--kube-version', KUBE_VERSION, ...args]);
    expect(r.code).not.toBe(0);
    return r.stderr;
  };

  beforeAll(async () => {
    helm = await startHelm({ log: (l) => console.log(l) });
  }, 30 * 60_000);
  afterAll(async () => {
    await helm?.cleanup();
  });

  it('is helm v3.22.0, and helm lint passes the chart', async () => {
    expect((await h().run(['version', '--short'])).stdout.trim()).toMatch(/^v3\.22\.0\b/);
    const lint = await h().run(['lint', CHART_DIR, '--kube-version', KUBE_VERSION]);
    expect(lint.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(lint.code).toBe(0);
  });

  it("helm template with default values is the core's install (crds.keep adds only Helm's keep annotation to the CRDs)", async () => {
    const rendered = await template();
    const crds = rendered.filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.annotations)).toEqual([{ 'helm.sh/resource-policy': 'keep' }, { 'helm.sh/resource-policy': 'keep' }]);
    for (const c of crds) delete c.metadata.annotations;
    expect(byKey(rendered)).toEqual(byKey(core({ namespace: INSTALL_NAMESPACE })));
    // --set crds.keep=false: not even that.
    expect(byKey(await template('--set', 'crds.keep=false'))).toEqual(byKey(core({ namespace: INSTALL_NAMESPACE })));
  });

  it('renders values as the same core options would: image, pull secrets, resources, tolerations, nodeSelector, annotations, agent options, metrics, PodMonitor', async () => {
    const values = {
      image: { registry: 'registry.example.com:5000', repository: 'net/kroute-agent', digest: DIGEST, pullPolicy: 'Always' },
      imagePullSecrets: [{ name: 'registry-creds' }],
      resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { cpu: '1', memory: '256Mi' } },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'net', effect: 'NoSchedule' }],
      nodeSelector: { 'doks.digitalocean.com/node-pool': 'egress' },
      podAnnotations: { 'example.com/team': 'net' },
      priorityClassName: 'system-cluster-critical',
      maxUnavailable: '1',
      metrics: { enabled: true, port: 9200 },
      podMonitor: { enabled: true, labels: { release: 'prometheus' } },
      crds: { keep: false },
      agent: { probeIntervalSeconds: 0.5, probeFallCount: 5, publicInterface: 'ens3', symmetricTable: 4294967294, keepAddresses: ['169.254.169.254', '10.0.0.1'], symmetricRouting: false, logLevel: 'debug' },
    };
    const rendered = await template('--set-json', `image=${JSON.stringify(values.image)}`, ...Object.entries(values).filter(([k]) => k !== 'image').flatMap(([k, v]) => ['--set-json', `${k}=${JSON.stringify(v)}`]));
    const expected = core({
      namespace: INSTALL_NAMESPACE,
      image: { registry: 'registry.example.com:5000', repository: 'net/kroute-agent', digest: DIGEST },
      imagePullPolicy: 'Always',
      imagePullSecrets: ['registry-creds'],
      resources: { cpuRequest: '50m', memoryRequest: '96Mi', cpuLimit: '1', memoryLimit: '256Mi' },
      tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'net', effect: 'NoSchedule' }],
      podNodeSelector: { 'doks.digitalocean.com/node-pool': 'egress' },
      podAnnotations: { 'example.com/team': 'net' },
      priorityClassName: 'system-cluster-critical',
      maxUnavailable: '1',
      podMonitor: true,
      podMonitorLabels: { release: 'prometheus' },
      agent: { probeIntervalSeconds: 0.5, probeFallCount: 5, publicInterface: 'ens3', symmetricTable: 4294967294, keepAddresses: ['169.254.169.254', '10.0.0.1'], symmetricRouting: false, logLevel: 'debug', metricsPort: 9200 },
    });
    expect(byKey(rendered)).toEqual(byKey(expected));
    const ds = rendered.find((o) => o.kind === 'DaemonSet') as unknown as { spec: { template: { spec: { containers: { args: string[] }[] } } } };
    expect(ds.spec.template.spec.containers[0]?.args).toContain('--symmetric-table=4294967294');
  });

  it('affinity, metrics off, and the CRD toggle', async () => {
    const affinity = { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['a'] }] }] } } };
    const ds = (await template('--set-json', `affinity=${JSON.stringify(affinity)}`, '--set', 'metrics.enabled=false')).find((o) => o.kind === 'DaemonSet') as unknown as {
      spec: { template: { spec: { affinity: unknown; containers: { args: string[]; ports: { name: string }[] }[] } } };
    };
    expect(ds.spec.template.spec.affinity).toEqual(affinity);
    expect(ds.spec.template.spec.containers[0]?.args).toContain('--metrics-port=0');
    expect(ds.spec.template.spec.containers[0]?.ports.map((p) => p.name)).toEqual(['health']);
    expect((await template('--set', 'crds.install=false')).map((o) => o.kind)).not.toContain('CustomResourceDefinition');
  });

  it('refuses bad values by name: a per-node option, an out-of-range option, an unknown image field, a PodMonitor without metrics', async () => {
    expect(await templateError('--set', 'agent.nodeName=n1')).toMatch(/\/agent.*additional properties 'nodeName' not allowed/);
    expect(await templateError('--set-json', 'agent={"probeIntervalSeconds":0}')).toMatch(/\/agent\/probeIntervalSeconds.*minimum/);
    expect(await templateError('--set', 'agent.overrideFailMode=sometimes')).toMatch(/\/agent\/overrideFailMode/);
    expect(await templateError('--set', 'image.name=x')).toMatch(/\/image.*additional properties 'name' not allowed/);
    expect(await templateError('--set', 'podMonitor.enabled=true', '--set', 'metrics.enabled=false')).toContain('podMonitor.enabled needs metrics.enabled');
  });
});
