/**
 * The Pulumi face deployed by Pulumi's real engine (CLI v3.274.1, pulumi-resource-kubernetes 4.25.0, both built
 * from the Go module proxy) against a real API server with kube-controller-manager, from an inline TypeScript
 * Automation API program: the README's Pulumi example (./program.ts). File backend, explicit provider. The kroute
 * agent runs as a process in the node namespace of a test topology with the ServiceAccount `up` created, so the
 * Routes `up` made become kernel routes, and `destroy` takes them away. Needs Go and root (CI=true: fails without).
 */
import { parse } from 'yaml';
import {
  agentManifests, labelsSelector, resolveAgentManifestOptions, routeObject, staticEgressRoute, withAwaitRollout, EgressScope,
} from '../../core/index.js';
import { ownedRoute, startAgent, type AgentProcess } from '../agent/agent-process.js';
import { boundKubeconfigFor, describeWithApiServer, useApiServerTopology } from '../apiserver/harness.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import { until, type Topology } from '../net/topology.js';
import { ensurePulumi, makePulumiEnv, PULUMI_KUBERNETES_VERSION, type DriverResult, type PulumiEnv } from './engine.js';
import type { ProgramSpec } from './program.js';

const d = describeWithApiServer;

/** The Pulumi binaries take about 35 minutes to build cold on 2 loaded cores (docs/benchmarks.md). */
const SETUP_TIMEOUT_MS = 60 * 60_000;
const OP_TIMEOUT_MS = 10 * 60_000;
const NODE_NAME = 'node-a';
/** Resources of the program: the stack, the provider, 3 components, 24 Kubernetes objects (the agent 9, per-node reporting 13, 2 Routes). */
const RESOURCES = 29;
const POOL_LABEL = 'doks.digitalocean.com/node-pool';

interface Live {
  metadata: { name: string; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

d('kroute deployed by Pulumi\'s real engine from TypeScript (inline Automation API; needs Go and root)', () => {
  // No kubelet: the Node object and its Ready condition are written as a kubelet would. Up brings the rest.
  const cluster = useApiServerTopology({ gateways: 2, nodes: { [NODE_NAME]: { [POOL_LABEL]: 'egress', 'kroute.io/vpn': 'true', 'kubernetes.io/hostname': NODE_NAME } } });
  let env: PulumiEnv | undefined;
  let agent: AgentProcess | undefined;
  let spec: ProgramSpec;
  const figures: Record<string, number> = {};
  const t = (): Topology => cluster.topo;
  const c = (): ControlPlane => cluster.cp;
  const e = (): PulumiEnv => env ?? fail('the Pulumi environment was not made');
  function fail(m: string): never {
    throw new Error(m);
  }
  let gw: [string, string];

  const run = async (op: 'up' | 'preview' | 'refresh' | 'destroy', s: ProgramSpec = spec, expectNoChanges = false): Promise<DriverResult> =>
    e().run({ op, stack: 'dev', project: { kind: 'inline', name: 'kroute-engine-ts', workDir: `${e().dir}/ts`, spec: s }, expectNoChanges });
  const ok = (r: DriverResult): DriverResult => {
    if (!r.ok) throw new Error(`${r.error}\n${r.diagnostics.map((x) => `${x.severity}: ${x.message}`).join('\n')}`);
    return r;
  };
  const getJson = async <T = Live>(...args: string[]): Promise<T | undefined> => {
    const r = await c().kubectl(['get', ...args, '-o', 'json']);
    if (r.code !== 0) {
      if (/NotFound/.test(r.stderr)) return undefined;
      throw new Error(r.stderr);
    }
    return JSON.parse(r.stdout) as T;
  };
  const routeSpec = async (name: string): Promise<unknown> => (await getJson('route', name))?.spec;
  const kernelRoute = (dst: string) => ownedRoute(t().node, dst);

  beforeAll(async () => {
    const log = (l: string) => console.log(`[pulumi-engine] ${l}`);
    const binaries = await ensurePulumi({ log });
    gw = [t().gateways[0]?.vpcV4 ?? fail('no gateway 0'), t().gateways[1]?.vpcV4 ?? fail('no gateway 1')];
    env = await makePulumiEnv(binaries);
    spec = { kubeconfig: c().localKubeconfig, providerVersion: PULUMI_KUBERNETES_VERSION, probeIntervalSeconds: 2, vpnGateways: [gw[0]], egressGateways: [...gw] };
  }, SETUP_TIMEOUT_MS);

  // The lab has stopped the agent (a no-op here then) and the control plane, and removed the topology.
  afterAll(async () => {
    await agent?.stop();
    await env?.remove();
    if (Object.keys(figures).length) console.log(`[pulumi-engine] figures (ms): ${JSON.stringify(figures)}`);
  });

  it('up creates the agent\'s objects and both Routes, as the core builds them, without awaiting the rollout', async () => {
    const r = ok(await run('up'));
    figures['up'] = r.ms;
    // The stack, the provider, 3 components, the CRD, 5 RBAC objects, the node-restriction policy and its binding, the
    // DaemonSet, per-node reporting's 13 objects (docs/status.md), 2 Routes.
    expect(r.changes).toEqual({ create: RESOURCES });
    const opts = resolveAgentManifestOptions({ agent: { probeIntervalSeconds: 2 } });
    if (!opts.ok) throw new Error('options');
    for (const m of withAwaitRollout(agentManifests(opts.value))) {
      const live = await getJson(m.kind.toLowerCase(), m.metadata.name, ...(m.metadata.namespace ? ['-n', m.metadata.namespace] : []));
      expect(live?.metadata).toMatchObject({ name: m.metadata.name, labels: m.metadata.labels, ...(m.metadata.annotations ? { annotations: m.metadata.annotations } : {}) });
      if (m.kind === 'DaemonSet') expect((live?.spec as { template: unknown }).template).toMatchObject((m['spec'] as { template: object }).template);
    }
    const crdLive = await getJson<Live & { status: { conditions: { type: string; status: string }[] } }>('crd', 'routes.networking.doks.digitalocean.com');
    expect(crdLive?.status.conditions.find((x) => x.type === 'Established')?.status).toBe('True');
    const ds = await getJson('daemonset', 'kroute-agent', '-n', 'kube-system');
    expect(ds?.metadata.annotations?.['pulumi.com/skipAwait']).toBe('true');
    // The DaemonSet controller (kube-controller-manager) reconciled it; no kubelet, so no Pod is ready.
    await until('the DaemonSet controller\'s status', 30_000, async () =>
      (await getJson('daemonset', 'kroute-agent', '-n', 'kube-system'))?.status?.['observedGeneration'] === 1 || undefined, 200);
    expect(await routeSpec('vpn')).toEqual(routeObject('vpn', { destinations: ['10.20.0.0/16'], gateways: [gw[0]], nodeSelector: labelsSelector({ 'kroute.io/vpn': 'true' }) }).spec);
    expect(await routeSpec('egress')).toEqual(staticEgressRoute('egress', { gateways: [...gw], scope: EgressScope.NODE_POOLS, nodePools: ['egress'] }).spec);
    expect(r.outputs['vpnGateways']).toEqual([gw[0]]);
  }, OP_TIMEOUT_MS);

  it('the agent, started with the ServiceAccount up created, turns those Routes into kernel routes', async () => {
    // Bound to a stand-in Pod on the node, as a DaemonSet Pod's token is (the node-restriction policy needs it).
    const kubeconfig = await boundKubeconfigFor(c(), 'kroute-agent', 'kube-system', NODE_NAME);
    agent = startAgent(t(), '', { args: ['--routes', '', '--kubeconfig', kubeconfig, '--resync-seconds', '2'] });
    const vpn = await until('the vpn route in the kernel', 60_000, () => kernelRoute('10.20.0.0/16'), 100);
    expect(vpn.gateways).toEqual([gw[0]]);
    // The override is a pair of /1 routes; the node's own default route stays (docs/agent.md).
    for (const half of ['0.0.0.0/1', '128.0.0.0/1']) {
      const def = await until(`the default-route override (${half}) in the kernel`, 60_000, () => kernelRoute(half), 100);
      expect([...def.gateways].sort()).toEqual([...gw].sort());
    }
  }, OP_TIMEOUT_MS);

  it('a second up changes nothing, and preview --expect-no-changes agrees', async () => {
    const r = ok(await run('up'));
    figures['up (no changes)'] = r.ms;
    expect(r.changes).toEqual({ same: RESOURCES });
    const p = ok(await run('preview', spec, true));
    expect(p.changes).toEqual({ same: RESOURCES });
  }, OP_TIMEOUT_MS);

  it('updates a knob and a Route\'s gateways in place; the kernel route follows', async () => {
    spec = { ...spec, probeIntervalSeconds: 5, vpnGateways: [gw[1]] };
    const r = ok(await run('up'));
    figures['up (2 updates)'] = r.ms;
    expect(r.changes).toEqual({ same: RESOURCES - 2, update: 2 });
    const ds = await getJson<{ spec: { template: { spec: { containers: { args?: string[] }[] } } } }>('daemonset', 'kroute-agent', '-n', 'kube-system');
    expect(ds?.spec.template.spec.containers[0]?.args).toContain('--probe-interval-seconds=5');
    expect(await routeSpec('vpn')).toMatchObject({ gateways: [gw[1]] });
    await until(`the vpn route via ${gw[1]}`, 60_000, async () => ((await kernelRoute('10.20.0.0/16'))?.gateways[0] === gw[1] ? true : undefined), 100);
  }, OP_TIMEOUT_MS);

  it('a gateway that turns out bad at deployment fails the Route component, naming the field; nothing behind it is created', async () => {
    const r = await run('up', { ...spec, lateGateway: '10.114.0.999' });
    figures['up (late failure)'] = r.ms;
    expect(r.ok).toBe(false);
    const errors = r.diagnostics.filter((x) => x.severity === 'error');
    // Reported on the component, by field, once; the stack's summary line repeats it.
    const mine = errors.filter((x) => x.urn?.endsWith('kroute:index:Route::late-bad'));
    expect(mine).toHaveLength(1);
    expect(mine[0]?.message).toMatch(/^Route "late-bad" is invalid:\n {2}- spec\.gateways\[0\]: "10\.114\.0\.999" is not an IPv4 or IPv6 address/);
    expect(errors.filter((x) => !x.urn).map((x) => x.message).join('\n')).toMatch(/Route "late-bad" is invalid/);
    const text = [r.error ?? '', ...errors.map((x) => x.message)].join('\n');
    expect(text).not.toMatch(/error serializing property/);
    const created = r.steps.filter((x) => x.op === 'create').map((x) => x.urn.split('::').pop());
    expect(created).toContain('late-source'); // independent of the bad Route: Pulumi creates it (a partial update)
    expect(created).not.toContain('late-bad-route');
    expect(created).not.toContain('behind-late');
    expect(await getJson('configmap', 'late-source', '-n', 'default')).toBeDefined();
    expect(await getJson('route', 'late-bad')).toBeUndefined();
    expect(await getJson('configmap', 'behind-late', '-n', 'default')).toBeUndefined();
    // The rest is untouched, and the stack is not left locked: back to the good program, the stray ConfigMap goes.
    const back = ok(await run('up'));
    expect(back.changes['same']).toBe(RESOURCES);
    expect(back.changes['create'] ?? 0).toBe(0);
    expect(back.changes['delete']).toBeGreaterThanOrEqual(1); // late-source, and the late-bad component if it was recorded
    expect(await getJson('configmap', 'late-source', '-n', 'default')).toBeUndefined();
  }, OP_TIMEOUT_MS);

  it('refresh finds no drift', async () => {
    const r = ok(await run('refresh'));
    figures['refresh'] = r.ms;
    expect(r.changes).toEqual({ same: RESOURCES });
    ok(await run('preview', spec, true));
  }, OP_TIMEOUT_MS);

  it('destroy leaves nothing (foreground deletion through the garbage collector) and the agent drops the kernel routes', async () => {
    const r = ok(await run('destroy'));
    figures['destroy'] = r.ms;
    expect(r.changes).toEqual({ delete: RESOURCES });
    expect(await getJson('crd', 'routes.networking.doks.digitalocean.com')).toBeUndefined();
    expect(await getJson('daemonset', 'kroute-agent', '-n', 'kube-system')).toBeUndefined();
    expect(await getJson('serviceaccount', 'kroute-agent', '-n', 'kube-system')).toBeUndefined();
    expect(await getJson('clusterrole', 'kroute-agent')).toBeUndefined();
    expect(await kernelRoute('10.20.0.0/16')).toBeUndefined();
    expect(await kernelRoute('0.0.0.0/1')).toBeUndefined();
    expect(await kernelRoute('128.0.0.0/1')).toBeUndefined();
    // No Pod of the DaemonSet is left (the garbage collector removed them); the test's own stand-in Pod, which its
    // agent token is bound to, is not Pulumi's.
    const out = parse((await c().kubectl(['get', 'pods', '-n', 'kube-system', '-l', 'kroute.dev/stand-in!=true', '-o', 'yaml'])).stdout) as { items: unknown[] };
    expect(out.items).toEqual([]);
  }, OP_TIMEOUT_MS);
});
