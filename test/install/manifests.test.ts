/**
 * `dist/install.yaml` and the committed Helm chart, without a cluster: the install manifest is the core's install
 * (the same objects the cdk8s RoutingAgent synthesizes in that namespace), carries no Route, and the committed
 * chart is what `npm run manifests` writes today. Rendering and installing them: helm.test.ts, install-e2e.test.ts.
 */
import { Chart, Testing } from 'cdk8s';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { RoutingAgent } from '../../constructs/index.js';
import { INSTALL_NAMESPACE, installManifests, resolveAgentManifestOptions } from '../../core/index.js';
import { chartFiles, installYaml } from '../../deploy/chart.js';
import { CHART_DIR } from '../../deploy/main.js';

const parseAll = (text: string): Record<string, unknown>[] => parseAllDocuments(text).map((d) => d.toJSON() as Record<string, unknown>).filter((o) => o);

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(relative(CHART_DIR, p));
  }
  return out.sort();
}

describe('dist/install.yaml', () => {
  const objects = parseAll(installYaml());

  it('is Namespace, CRD, RBAC, admission policy and DaemonSet, then per-node reporting, in apply order, in kroute-system, with no Route', () => {
    expect(objects.map((o) => `${o.kind}/${(o.metadata as { namespace?: string }).namespace ?? ''}/${(o.metadata as { name: string }).name}`)).toEqual([
      'Namespace//kroute-system',
      'CustomResourceDefinition//routes.networking.doks.digitalocean.com',
      'ServiceAccount/kroute-system/kroute-agent',
      'ClusterRole//kroute-agent',
      'ClusterRoleBinding//kroute-agent',
      'Role/default/kroute-agent-apiserver-endpoints',
      'RoleBinding/default/kroute-agent-apiserver-endpoints',
      'ValidatingAdmissionPolicy//kroute-agent-node-restriction',
      'ValidatingAdmissionPolicyBinding//kroute-agent-node-restriction',
      'DaemonSet/kroute-system/kroute-agent',
      // per-node reporting (docs/status.md)
      'CustomResourceDefinition//routereports.kroute.dev',
      'ClusterRole//kroute-agent-report',
      'ClusterRoleBinding//kroute-agent-report',
      'Role/kroute-system/kroute-agent-report',
      'RoleBinding/kroute-system/kroute-agent-report',
      'ValidatingAdmissionPolicy//kroute-agent-report-restriction',
      'ValidatingAdmissionPolicyBinding//kroute-agent-report-restriction',
      'ServiceAccount/kroute-system/kroute-controller',
      'ClusterRole//kroute-controller',
      'ClusterRoleBinding//kroute-controller',
      'Role/kroute-system/kroute-controller',
      'RoleBinding/kroute-system/kroute-controller',
      'Deployment/kroute-system/kroute-controller',
    ]);
  });

  it("is the core's install, and what a cdk8s RoutingAgent synthesizes in a chart of that namespace", () => {
    const r = resolveAgentManifestOptions({ namespace: INSTALL_NAMESPACE });
    if (!r.ok) throw new Error('the defaults do not resolve');
    expect(objects).toEqual(JSON.parse(JSON.stringify(installManifests(r.value))));
    const chart = new Chart(Testing.app(), 'install', { namespace: INSTALL_NAMESPACE });
    new RoutingAgent(chart, 'agent');
    expect(objects).toEqual(Testing.synth(chart));
  });
});

describe('the committed Helm chart (charts/kroute)', () => {
  it('is what `npm run manifests` generates now (run it and commit when this fails)', async () => {
    const generated = chartFiles();
    expect(await filesUnder(CHART_DIR)).toEqual(Object.keys(generated).sort());
    for (const [path, text] of Object.entries(generated)) expect([path, await readFile(join(CHART_DIR, path), 'utf8')]).toEqual([path, text]);
  });

  it('declares the values an operator sets, with the core defaults', () => {
    const values = parseAll(chartFiles()['values.yaml'] ?? '')[0] ?? {};
    expect(Object.keys(values).sort()).toEqual(['affinity', 'agent', 'crds', 'image', 'imagePullSecrets', 'maxUnavailable', 'metrics', 'nodeSelector',
      'podAnnotations', 'podMonitor', 'priorityClassName', 'resources', 'tolerations'].sort());
    expect(values).toMatchObject({
      image: { registry: 'localhost', repository: 'kroute/agent', tag: '0.1.0', digest: '', pullPolicy: 'IfNotPresent' },
      nodeSelector: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' },
      tolerations: [{ operator: 'Exists' }],
      metrics: { enabled: true, port: 9180 },
      podMonitor: { enabled: false },
      crds: { install: true, keep: true },
    });
  });
});
