/**
 * The two operator install paths end to end, as docs/install.md gives them, against a real API server (needs Go and
 * root): `kubectl apply -f dist/install.yaml` on a fresh API server in one go, and `helm install` of charts/kroute
 * with a real helm into another fresh one. Each time the agent runs as a real process in the node namespace of a
 * DigitalOcean-shaped topology, with the ServiceAccount the install created (its token, its RBAC), the README's
 * Route is applied and its kernel route appears; then the documented uninstall leaves nothing of kroute in the
 * cluster, and the documented finalizer release frees a Route (and so the CRD) that no agent will ever release.
 *
 * No kubelet and no controller-manager run here, so two things a cluster does are done by the test, said where:
 * the Node object (as a kubelet writes it) and the last step of namespace deletion (the namespace controller's
 * `finalize` call, made only after checking that nothing is left in the namespace).
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { INSTALL_NAMESPACE } from '../../core/index.js';
import { installYaml } from '../../deploy/chart.js';
import { APPLY_EXAMPLE, synthExample } from '../../examples/cdk8s/main.js';
import { CHART_DIR, INSTALL_YAML, REPO_ROOT } from '../../deploy/main.js';
import { ownedRoute, ownedRoutes, type AgentProcess } from '../agent/agent-process.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import { startHelm, type Helm } from '../cluster/helm.js';
import { podMonitorCrdYaml } from './podmonitor-crd.js';
import { runAgent } from '../lab/agent.js';
import { agentKubeconfig, standInNode } from '../lab/control-plane.js';
import { DEST, routeGet, until, type Topology } from '../net/topology.js';
import { describeWithApiServer, ROUTE_CRD_NAME, SETUP_TIMEOUT_MS, useApiServerTopology } from '../apiserver/harness.js';

const d = describeWithApiServer;

const NODE_NAME = 'node-a';
const AGENT = 'kroute-agent';
const PART_OF = 'app.kubernetes.io/part-of=kroute';

/** The first Route in README.md, exactly as a user would copy it. */
function readmeRoute(): { metadata: { name: string }; spec: { destinations: string[]; gateways: string[] } } {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').find((b) => /^kind: Route$/m.test(b));
  if (!block) throw new Error('README.md has no yaml block with a Route');
  return parse(block);
}

d('installing without cdk8s or Pulumi: kubectl apply -f dist/install.yaml and helm install (needs Go and root)', () => {
  // A bare control plane: the install under test brings the CRDs, the agent's objects and its namespace.
  const cluster = useApiServerTopology({ gateways: 2 });
  let agent: AgentProcess | undefined;
  let helm: Helm | undefined;
  const route = readmeRoute();
  const t = (): Topology => cluster.topo;
  const c = (): ControlPlane => cluster.cp;
  const kubectl = async (...args: string[]): Promise<string> => {
    const r = await c().kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  };
  const helmRun = async (...args: string[]): Promise<string> => {
    if (!helm) throw new Error('helm did not build');
    const r = await helm.run([...args, '--kubeconfig', c().localKubeconfig]);
    if (r.code !== 0) throw new Error(`helm ${args.join(' ')} (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  };
  const freshControlPlane = async (): Promise<void> => {
    await cluster.freshControlPlane();
  };
  /** The Node a kubelet would register (no kubelet here), in the README Route's node pool, Ready. */
  const registerNode = (): Promise<void> =>
    standInNode(c(), NODE_NAME, { 'doks.digitalocean.com/node-pool': 'worker-pool', 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' });
  /** The agent as the DaemonSet would run it on node-a: the ServiceAccount and RBAC the install created. */
  const startInstalledAgent = async (): Promise<AgentProcess> => {
    // Bound to a stand-in Pod on the node, as a DaemonSet Pod's token is: the install's node-restriction policy needs it.
    const kubeconfig = await agentKubeconfig(t().built, c(), { name: AGENT, namespace: INSTALL_NAMESPACE }, NODE_NAME);
    agent = await runAgent(t().built, { kubeconfig, args: ['--resync-seconds', '2'], readyMs: 30_000 });
    return agent;
  };
  const stopAgent = async (): Promise<void> => {
    expect(await agent?.stop()).toBe(0);
    agent = undefined;
  };
  const kernelRoute = () => ownedRoute(t().node, '0.0.0.0/5');
  /** Applies the README's Route and waits for its multipath kernel route and READY True. */
  const applyReadmeRoute = async (): Promise<void> => {
    await c().apply([route]);
    const r = await until('the README Route in the kernel', 30_000, async () => ((await kernelRoute())?.gateways.length === 2 ? kernelRoute() : undefined));
    expect(r?.gateways).toEqual([...route.spec.gateways].sort());
    expect(await routeGet(t().node, DEST.inFiveV4)).toMatch(/via 10\.114\.0\.[34] dev eth1/);
    await until('READY True', 30_000, async () => (/^basic\s.*\s1\s+True\s+\S+$/m.test(await kubectl('get', 'routes')) ? true : undefined), 200);
  };
  /** Every object labelled part-of=kroute, of every listable kind, in every namespace. */
  const kroutesObjects = async (): Promise<string[]> => {
    const kinds = (await kubectl('api-resources', '--verbs=list', '-o', 'name')).split('\n').filter((k) => k && k !== 'events' && k !== 'events.events.k8s.io');
    return (await kubectl('get', kinds.join(','), '-A', '-l', PART_OF, '-o', 'name', '--ignore-not-found')).split('\n').filter(Boolean);
  };
  /**
   * The namespace controller (kube-controller-manager runs in the test control plane) empties a Terminating namespace
   * and removes it; kroute's own objects must be gone before that (expectNothingLeft checks every kind).
   */
  const finishNamespaceDeletion = async (ns: string): Promise<void> => {
    // The stand-in agent Pod the token is bound to has no kubelet to confirm its deletion: force it, as a node's
    // kubelet would have finished it.
    await c().kubectl(['delete', 'pod', '-n', ns, '-l', 'kroute.dev/stand-in=true', '--grace-period=0', '--force', '--ignore-not-found']);
    await until(`namespace ${ns} gone`, 60_000, async () => ((await c().kubectl(['get', 'namespace', ns])).code !== 0 ? true : undefined), 200);
  };
  /** Nothing of kroute is left: no labelled object anywhere, no CRD, no Route API, no namespace. */
  const expectNothingLeft = async (): Promise<void> => {
    expect(await kroutesObjects()).toEqual([]);
    expect((await c().kubectl(['get', 'crd', ROUTE_CRD_NAME])).stderr).toMatch(/NotFound/);
    expect((await c().kubectl(['get', 'routes'])).stderr).toMatch(/the server doesn't have a resource type "routes"/);
    expect((await c().kubectl(['get', 'namespace', INSTALL_NAMESPACE])).stderr).toMatch(/NotFound/);
  };

  beforeAll(async () => {
    // What `npm run manifests` writes (the chart is the committed copy, checked by manifests.test.ts).
    await mkdir(dirname(INSTALL_YAML), { recursive: true });
    await writeFile(INSTALL_YAML, installYaml());
    helm = await startHelm();
  }, SETUP_TIMEOUT_MS);

  afterAll(() => helm?.cleanup());

  it('kubectl apply -f dist/install.yaml installs on a fresh API server in one go; kubectl explain shows every field', async () => {
    const r = await c().kubectl(['apply', '-f', INSTALL_YAML]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`namespace/${INSTALL_NAMESPACE} created`);
    expect(r.stdout).toContain(`customresourcedefinition.apiextensions.k8s.io/${ROUTE_CRD_NAME} created`);
    expect(r.stdout).toContain(`daemonset.apps/${AGENT} created`);
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', `crd/${ROUTE_CRD_NAME}`);
    // The CRD's OpenAPI is published a moment after Established.
    const spec = await until('kubectl explain routes.spec', 30_000, async () => {
      const r = await c().kubectl(['explain', 'routes.spec']);
      return r.code === 0 ? r.stdout : undefined;
    }, 200);
    for (const text of ['Desired routes', 'Destination CIDRs', 'Next-hop addresses', 'core/v1 NodeSelector']) expect(spec).toContain(text);
    const nodes = await kubectl('explain', 'routes.status.nodes');
    for (const text of ['The node this entry is about', 'Gateways in the kernel route now', 'When state last changed']) expect(nodes).toContain(text);
    expect(await kubectl('explain', 'routes.spec.nodeSelector.nodeSelectorTerms.matchExpressions')).toContain('In, NotIn, Exists or DoesNotExist');
  });

  it("the README's Route, applied after that install, reaches the kernel through the installed agent's ServiceAccount", async () => {
    await registerNode();
    await startInstalledAgent();
    await applyReadmeRoute();
  });

  it('the documented uninstall (Routes first, while the agents run; then kubectl delete -f) leaves nothing behind', async () => {
    await kubectl('delete', 'routes', '--all', '--timeout=60s');
    expect(await kernelRoute()).toBeUndefined();
    await stopAgent();
    // --wait=false: kubectl would wait for the namespace, which only the namespace controller finishes.
    await kubectl('delete', '-f', INSTALL_YAML, '--wait=false');
    await until('the CRD gone', 30_000, async () => ((await c().kubectl(['get', 'crd', ROUTE_CRD_NAME])).code !== 0 ? true : undefined), 200);
    await finishNamespaceDeletion(INSTALL_NAMESPACE);
    await expectNothingLeft();
    expect(await ownedRoutes(t().node).then((rs) => rs.filter((x) => x.table === 'main'))).toEqual([]);
  });

  it('a Route whose node finalizer has no agent holds the CRD Terminating until the documented finalizer release', async () => {
    await kubectl('apply', '-f', INSTALL_YAML);
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', `crd/${ROUTE_CRD_NAME}`);
    await startInstalledAgent();
    await applyReadmeRoute();
    // The agent goes away for good (its DaemonSet deleted first, its node drained...), then the install is deleted.
    await stopAgent();
    await kubectl('delete', '-f', INSTALL_YAML, '--wait=false');
    const stuck = await until('the Route Terminating', 30_000, async () => {
      const o = JSON.parse(await kubectl('get', 'route', route.metadata.name, '-o', 'json')) as { metadata: { deletionTimestamp?: string; finalizers?: string[] } };
      return o.metadata.deletionTimestamp ? o : undefined;
    }, 200);
    expect(stuck.metadata.finalizers).toEqual([`${NODE_NAME}.nodes.kroute.dev/routes`]);
    const crd = JSON.parse(await kubectl('get', 'crd', ROUTE_CRD_NAME, '-o', 'json')) as { metadata: { deletionTimestamp?: string } };
    expect(crd.metadata.deletionTimestamp).toBeDefined();
    // docs/install.md, "A Route stuck Terminating": release the finalizer, then clean the node by hand.
    await kubectl('patch', 'route', route.metadata.name, '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers"}]');
    await until('the CRD gone', 30_000, async () => ((await c().kubectl(['get', 'crd', ROUTE_CRD_NAME])).code !== 0 ? true : undefined), 200);
    await finishNamespaceDeletion(INSTALL_NAMESPACE);
    await expectNothingLeft();
    // Released, not removed: the node keeps the route until it is flushed there (what the doc says to run).
    expect((await kernelRoute())?.gateways).toHaveLength(2);
    await t().node.ip('route', 'flush', 'proto', '145');
    expect(await kernelRoute()).toBeUndefined();
  });

  it('helm install of charts/kroute into a fresh API server; the README Route reaches the kernel', async () => {
    await freshControlPlane();
    const out = await helmRun('install', 'kroute', CHART_DIR, '--namespace', INSTALL_NAMESPACE, '--create-namespace');
    expect(out).toMatch(/STATUS: deployed/);
    expect(await helmRun('status', 'kroute', '--namespace', INSTALL_NAMESPACE)).toMatch(/STATUS: deployed/);
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', `crd/${ROUTE_CRD_NAME}`);
    expect((await kubectl('get', 'daemonset', AGENT, '-n', INSTALL_NAMESPACE, '-o', 'name')).trim()).toBe(`daemonset.apps/${AGENT}`);
    await registerNode();
    await startInstalledAgent();
    await applyReadmeRoute();
  });

  it('helm uninstall before the Routes are deleted keeps the CRD and the Routes, none Terminating (crds.keep); a reinstall adopts them (with a PodMonitor)', async () => {
    await helmRun('uninstall', 'kroute', '--namespace', INSTALL_NAMESPACE);
    const r = JSON.parse(await kubectl('get', 'route', route.metadata.name, '-o', 'json')) as { metadata: { deletionTimestamp?: string } };
    expect(r.metadata.deletionTimestamp).toBeUndefined();
    const crd = JSON.parse(await kubectl('get', 'crd', ROUTE_CRD_NAME, '-o', 'json')) as { metadata: { deletionTimestamp?: string } };
    expect(crd.metadata.deletionTimestamp).toBeUndefined();
    expect((await kubectl('get', 'daemonset', '-n', INSTALL_NAMESPACE, '-o', 'name')).trim()).toBe('');
    // The DaemonSet is gone, so are its pods (SIGTERM: the kernel stays as it is), and their ServiceAccount.
    await stopAgent();
    expect((await kernelRoute())?.gateways).toHaveLength(2);
    // helm refuses to adopt an object another release (or none) owns, unless it carries this release's metadata:
    // the kept CRD still does, so the same release installs again over it. This time with the PodMonitor, against
    // the Prometheus Operator's own CRD.
    const pmCrd = await c().kubectl(['apply', '--server-side', '-f', '-'], { input: await podMonitorCrdYaml() });
    expect([pmCrd.code, pmCrd.stderr]).toEqual([0, '']);
    await kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/podmonitors.monitoring.coreos.com');
    await helmRun('install', 'kroute', CHART_DIR, '--namespace', INSTALL_NAMESPACE, '--set', 'podMonitor.enabled=true', '--set', 'podMonitor.labels.release=prometheus');
    const pm = JSON.parse(await kubectl('get', 'podmonitor', AGENT, '-n', INSTALL_NAMESPACE, '-o', 'json')) as { metadata: { labels: Record<string, string> }; spec: unknown };
    expect(pm.metadata.labels).toMatchObject({ release: 'prometheus', 'app.kubernetes.io/part-of': 'kroute' });
    expect(pm.spec).toEqual({ selector: { matchLabels: { 'app.kubernetes.io/name': 'kroute', 'app.kubernetes.io/component': 'agent' } }, podMetricsEndpoints: [{ port: 'metrics', path: '/metrics' }] });
    // New pods, with tokens of the new ServiceAccount, take the kept Route back.
    await startInstalledAgent();
    expect((await kernelRoute())?.gateways).toHaveLength(2);
    await until('READY True again', 30_000, async () => (/^basic\s.*\s1\s+True\s+\S+$/m.test(await kubectl('get', 'routes')) ? true : undefined), 200);
  });

  it('the documented Helm uninstall (Routes first, helm uninstall, the kept CRD, the namespace) leaves nothing behind', async () => {
    await kubectl('delete', 'routes', '--all', '--timeout=60s');
    expect(await kernelRoute()).toBeUndefined();
    await stopAgent();
    await helmRun('uninstall', 'kroute', '--namespace', INSTALL_NAMESPACE);
    await kubectl('delete', 'crd', ROUTE_CRD_NAME, 'routereports.kroute.dev', '--timeout=60s');
    await kubectl('delete', 'namespace', INSTALL_NAMESPACE, '--wait=false');
    await finishNamespaceDeletion(INSTALL_NAMESPACE);
    await expectNothingLeft();
    await kubectl('delete', 'crd', 'podmonitors.monitoring.coreos.com', '--timeout=60s');
  });

  it("the cdk8s example's two files apply on a fresh API server with the commands npm run synth prints", async () => {
    await freshControlPlane();
    const out = await mkdtemp(join(tmpdir(), 'kroute-synth-'));
    try {
      const [agentFile, routesFile] = synthExample(out);
      // Why two files: the CRD and Routes in one apply fail on a fresh cluster (kubectl maps every kind first).
      const together = await c().kubectl(['apply', '-f', agentFile ?? '', '-f', routesFile ?? '']);
      expect(together.code).toBe(1);
      expect(together.stderr).toMatch(/no matches for kind "Route"/);
      for (const cmd of APPLY_EXAMPLE) {
        const args = cmd.split(' ').slice(1).map((a) => a.replace('dist/kroute.k8s.yaml', agentFile ?? '').replace('dist/kroute-routes.k8s.yaml', routesFile ?? ''));
        const r = await c().kubectl([...args, ...(args[0] === 'wait' ? ['--timeout=60s'] : [])]);
        expect([cmd, r.code, r.stderr]).toEqual([cmd, 0, '']);
      }
      expect((await kubectl('get', 'routes', '-o', 'name')).split('\n').filter(Boolean)).toHaveLength(4);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
