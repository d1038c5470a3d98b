/**
 * kroute's components from Pulumi YAML, through the multi-language component provider, with Pulumi's real engine
 * (CLI v3.274.1, its YAML language host v1.25.0, pulumi-resource-kubernetes 4.25.0, all built from the Go module
 * proxy) against a real API server with kube-controller-manager. The provider runs as an executable plugin
 * (`pulumi-resource-kroute` starting the component-provider host with Node): `runtime: nodejs` would need Pulumi's
 * Node language host, which cannot be built here. The life cycle, and the errors as a YAML user sees them.
 * Needs Go and root (CI=true: fails without).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { staticEgressRoute, EgressScope } from '../../core/index.js';
import { describeWithApiServer, useApiServerLab } from '../apiserver/harness.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import { ensurePulumi, makePulumiEnv, PULUMI_KUBERNETES_VERSION, type DriverResult, type PulumiEnv } from './engine.js';

const d = describeWithApiServer;

const SETUP_TIMEOUT_MS = 60 * 60_000;
const OP_TIMEOUT_MS = 10 * 60_000;

interface Knobs {
  readonly probeIntervalSeconds: number;
  readonly vpnGateways: readonly string[];
  readonly scope?: string;
  readonly egressGateways?: readonly string[];
}

d('kroute from Pulumi YAML through its component provider, real engine (needs Go and root)', () => {
  // A bare control plane on 127.0.0.1 in a lab namespace; stopped, and the namespace removed, after the tests.
  const api = useApiServerLab();
  let env: PulumiEnv | undefined;
  const figures: Record<string, number> = {};
  const fail = (m: string): never => {
    throw new Error(m);
  };
  const c = (): ControlPlane => api.cp;
  const e = (): PulumiEnv => env ?? fail('the Pulumi environment was not made');

  /** Writes the YAML project `name` with these knobs; returns its folder. */
  const project = async (name: string, k: Knobs): Promise<string> => {
    const dir = join(e().dir, 'yaml', name);
    await mkdir(dir, { recursive: true });
    const opts = { providers: ['${k8s}'], dependsOn: ['${agent}'] };
    const doc = {
      name,
      runtime: 'yaml',
      plugins: { providers: [{ name: 'kroute', path: e().krouteProviderDir }] },
      resources: {
        k8s: {
          type: 'pulumi:providers:kubernetes',
          properties: { kubeconfig: readFileSync(c().localKubeconfig, 'utf8') },
          options: { version: PULUMI_KUBERNETES_VERSION },
        },
        agent: {
          type: 'kroute:index:RoutingAgent',
          properties: { agent: { probeIntervalSeconds: k.probeIntervalSeconds } },
          options: { providers: ['${k8s}'] },
        },
        vpn: {
          type: 'kroute:index:Route',
          properties: { destinations: ['10.20.0.0/16'], gateways: [...k.vpnGateways] },
          options: opts,
        },
        egress: {
          type: 'kroute:index:StaticEgress',
          properties: { gateways: [...(k.egressGateways ?? ['10.114.0.10', '10.114.0.11'])], scope: k.scope ?? 'NodePools', nodePools: ['egress'] },
          options: opts,
        },
      },
      outputs: { objects: '${agent.objects}', vpnGateways: '${vpn.gateways}' },
    };
    await writeFile(join(dir, 'Pulumi.yaml'), stringify(doc, { aliasDuplicateObjects: false })); // Pulumi YAML refuses aliases
    return dir;
  };
  const run = async (op: 'up' | 'preview' | 'refresh' | 'destroy', workDir: string, expectNoChanges = false): Promise<DriverResult> =>
    e().run({ op, stack: 'dev', project: { kind: 'yaml', workDir }, expectNoChanges });
  const ok = (r: DriverResult): DriverResult => {
    if (!r.ok) throw new Error(`${r.error}\n${r.diagnostics.map((x) => `${x.severity}: ${x.message}`).join('\n')}`);
    return r;
  };
  const getJson = async (...args: string[]): Promise<{ metadata: { annotations?: Record<string, string> }; spec?: unknown } | undefined> => {
    const r = await c().kubectl(['get', ...args, '-o', 'json']);
    if (r.code !== 0) {
      if (/NotFound/.test(r.stderr)) return undefined;
      throw new Error(r.stderr);
    }
    return JSON.parse(r.stdout) as { metadata: { annotations?: Record<string, string> }; spec?: unknown };
  };
  let dir = '';

  beforeAll(async () => {
    const binaries = await ensurePulumi({ log: (l) => console.log(`[pulumi-engine] ${l}`) });
    env = await makePulumiEnv(binaries);
    dir = await project('kroute-yaml', { probeIntervalSeconds: 2, vpnGateways: ['10.114.0.3'] });
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await env?.remove();
    if (Object.keys(figures).length) console.log(`[pulumi-engine yaml] figures (ms): ${JSON.stringify(figures)}`);
  });

  it('up creates the agent and both Routes through the component provider', async () => {
    const r = ok(await run('up', dir));
    figures['up'] = r.ms;
    // As the TypeScript stack counts (29): the stack, the providers, the 3 components and their Kubernetes objects.
    expect(r.changes['create']).toBe(29);
    figures['resources'] = r.changes['create'] ?? 0;
    expect((await getJson('daemonset', 'kroute-agent', '-n', 'kube-system'))?.metadata.annotations?.['pulumi.com/skipAwait']).toBe('true');
    expect((await getJson('route', 'vpn'))?.spec).toEqual({ destinations: ['10.20.0.0/16'], gateways: ['10.114.0.3'] });
    expect((await getJson('route', 'egress'))?.spec).toEqual(
      staticEgressRoute('egress', { gateways: ['10.114.0.10', '10.114.0.11'], scope: EgressScope.NODE_POOLS, nodePools: ['egress'] }).spec);
    expect(r.outputs['vpnGateways']).toEqual(['10.114.0.3']);
  }, OP_TIMEOUT_MS);

  it('a second up changes nothing; preview --expect-no-changes agrees', async () => {
    const r = ok(await run('up', dir));
    expect(Object.keys(r.changes)).toEqual(['same']);
    ok(await run('preview', dir, true));
  }, OP_TIMEOUT_MS);

  it('updates a knob and a Route\'s gateways in place', async () => {
    await project('kroute-yaml', { probeIntervalSeconds: 5, vpnGateways: ['10.114.0.4'] });
    const r = ok(await run('up', dir));
    expect(r.changes['update']).toBe(2);
    expect(r.changes['create'] ?? 0).toBe(0);
    expect(r.changes['delete'] ?? 0).toBe(0);
    expect((await getJson('route', 'vpn'))?.spec).toEqual({ destinations: ['10.20.0.0/16'], gateways: ['10.114.0.4'] });
  }, OP_TIMEOUT_MS);

  it('shows a YAML user the errors: an unknown enum value from the type check, a bad address from the component', async () => {
    const badEnum = failedRun(await run('preview', await project('kroute-yaml-bad-enum', { probeIntervalSeconds: 2, vpnGateways: ['10.114.0.3'], scope: 'SomeNodes' })));
    expect(badEnum).toMatch(/SomeNodes/);
    expect(badEnum).toMatch(/NodePools/);
    const badIp = failedRun(await run('preview', await project('kroute-yaml-bad-ip', { probeIntervalSeconds: 2, vpnGateways: ['10.114.0.999'] })));
    expect(badIp).toMatch(/Route "vpn" is invalid:[\s\S]*spec\.gateways\[0\]: "10\.114\.0\.999" is not an IPv4 or IPv6 address/);
    expect(await getJson('route', 'vpn')).toBeDefined(); // the other stack's Route is untouched
  }, OP_TIMEOUT_MS);

  it('shows a YAML user a gateway that turns out bad only at deployment: the Route fails by field, nothing behind it is created', async () => {
    // Its own stack beside the main one: a ConfigMap whose data is the gateway, known once the ConfigMap exists.
    const late = join(e().dir, 'yaml', 'kroute-yaml-late');
    await mkdir(late, { recursive: true });
    const doc = {
      name: 'kroute-yaml-late',
      runtime: 'yaml',
      plugins: { providers: [{ name: 'kroute', path: e().krouteProviderDir }] },
      resources: {
        k8s: { type: 'pulumi:providers:kubernetes', properties: { kubeconfig: readFileSync(c().localKubeconfig, 'utf8') }, options: { version: PULUMI_KUBERNETES_VERSION } },
        'late-source': {
          type: 'kubernetes:core/v1:ConfigMap',
          properties: { metadata: { name: 'late-source', namespace: 'default' }, data: { gateway: '10.114.0.999' } },
          options: { provider: '${k8s}' },
        },
        'late-bad': {
          type: 'kroute:index:Route',
          properties: { destinations: ['172.30.0.0/16'], gateways: ['${late-source.data.gateway}'] },
          options: { providers: ['${k8s}'] },
        },
        'behind-late': {
          type: 'kubernetes:core/v1:ConfigMap',
          properties: { metadata: { name: 'behind-late', namespace: 'default' }, data: { after: 'late-bad' } },
          options: { provider: '${k8s}', dependsOn: ['${late-bad}'] },
        },
      },
    };
    await writeFile(join(late, 'Pulumi.yaml'), stringify(doc, { aliasDuplicateObjects: false }));
    const r = await run('up', late);
    figures['up (late failure)'] = r.ms;
    const text = failedRun(r);
    expect(text).toMatch(/Route "late-bad" is invalid:[\s\S]*spec\.gateways\[0\]: "10\.114\.0\.999" is not an IPv4 or IPv6 address/);
    expect(text).not.toMatch(/error serializing property/);
    // The component's own error, naming the Route and the field, with no trace of kroute's files. The YAML host may
    // also report the same error's stack (its message alone: ComponentValidationError's stack is its message) as a
    // second diagnostic, depending on when the rejected child input settles: seen in clean-clone runs, not always.
    const errors = r.diagnostics.filter((x) => x.severity === 'error').map((x) => x.message);
    const body = 'Route "late-bad" is invalid:\n  - spec.gateways[0]: "10.114.0.999" is not an IPv4 or IPv6 address\n';
    const own = `kroute:index:Route resource 'late-bad' has a problem: ${body}`;
    expect(errors).toContain(own);
    for (const e of errors) if (e !== own) expect(e).toBe(body);
    expect(errors.length).toBeLessThanOrEqual(2);
    expect(errors.join('')).not.toMatch(/\.js:\d+|\/lib\//);
    const created = r.steps.filter((x) => x.op === 'create').map((x) => x.urn.split('::').pop());
    expect(created).toContain('late-source');
    expect(created).not.toContain('late-bad-route');
    expect(created).not.toContain('behind-late');
    expect(await getJson('configmap', 'late-source', '-n', 'default')).toBeDefined();
    expect(await getJson('route', 'late-bad')).toBeUndefined();
    expect(await getJson('configmap', 'behind-late', '-n', 'default')).toBeUndefined();
    ok(await run('destroy', late));
    expect(await getJson('configmap', 'late-source', '-n', 'default')).toBeUndefined();
  }, OP_TIMEOUT_MS);

  it('refresh finds no drift; destroy leaves nothing', async () => {
    const r = ok(await run('refresh', dir));
    expect(Object.keys(r.changes)).toEqual(['same']);
    const dd = ok(await run('destroy', dir));
    figures['destroy'] = dd.ms;
    expect(Object.keys(dd.changes)).toEqual(['delete']);
    for (const o of [['route', 'vpn'], ['route', 'egress'], ['crd', 'routes.networking.doks.digitalocean.com'], ['daemonset', 'kroute-agent', '-n', 'kube-system'],
      ['clusterrole', 'kroute-agent']]) {
      expect(await getJson(...o)).toBeUndefined();
    }
  }, OP_TIMEOUT_MS);
});

/** A failed run's messages as the user reads them (error + diagnostics); throws when the run did not fail. */
function failedRun(r: DriverResult): string {
  if (r.ok) throw new Error('the run succeeded; an error was expected');
  return [r.error ?? '', ...r.diagnostics.map((x) => x.message)].join('\n');
}
