/**
 * The agent's RBAC from core/agent-manifests.ts on a real API server with RBAC enforced: with the agent
 * ServiceAccount's own token (TokenRequest), each verb the agent needs is allowed and the rest is denied.
 * Needs Go and root; skipped locally without them, fails in CI.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { agentManifests, routeObject, ROUTE_GROUP, ROUTE_KIND, ROUTE_PLURAL, ROUTE_VERSION } from '../../core/index.js';
import { AGENT_OPTIONS, type ApiServerLab, describeWithApiServer, SETUP_TIMEOUT_MS, useApiServerLab } from './harness.js';

const d = describeWithApiServer;

const agent = AGENT_OPTIONS;
const routes = `${ROUTE_PLURAL}.${ROUTE_GROUP}`;

// [verb, resource, extra kubectl auth can-i arguments]
const allowed: [string, string, string[]][] = [
  ['get', routes, []],
  ['list', routes, []],
  ['watch', routes, []],
  ['patch', routes, []],
  ['patch', routes, ['--subresource=status']],
  ['get', 'nodes', []],
  ['list', 'nodes', []],
  ['watch', 'nodes', []],
  ['create', 'events', ['-n', 'default']],
  ['patch', 'events', ['-n', agent.namespace]],
  ['create', 'events.events.k8s.io', ['-n', 'default']],
  ['get', 'endpoints/kubernetes', ['-n', 'default']],
];
const denied: [string, string, string[]][] = [
  ['delete', routes, []],
  ['create', routes, []],
  ['update', routes, []],
  ['deletecollection', routes, []],
  ['update', routes, ['--subresource=status']],
  ['get', 'secrets', ['-n', agent.namespace]],
  ['list', 'secrets', ['-A']],
  ['patch', 'nodes', []],
  ['delete', 'nodes', []],
  ['list', 'endpoints', ['-n', 'default']],
  ['get', 'endpoints/other', ['-n', 'default']],
  ['get', 'endpoints/kubernetes', ['-n', 'kube-system']],
  ['create', 'pods', ['-n', agent.namespace]],
];

d("the agent's RBAC on a real API server (needs Go and root)", () => {
  const lab = useApiServerLab({ crd: true });
  let agentConfig = '';
  const cp = (): ApiServerLab['cp'] => lab.cp;
  const canI = (verb: string, resource: string, extra: string[]): ReturnType<ApiServerLab['cp']['kubectl']> =>
    cp().kubectl(['auth', 'can-i', verb, resource, ...extra], { kubeconfig: agentConfig });

  beforeAll(async () => {
    // The DaemonSet is applied too: stored and admitted, though no Pod runs without a controller manager.
    await lab.cp.apply(agentManifests(agent));
    await lab.cp.apply([routeObject('existing', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'] })]);
    agentConfig = await lab.cp.kubeconfigFor(agent.name, agent.namespace);
  }, SETUP_TIMEOUT_MS);

  it('authenticates the minted token as the agent ServiceAccount', async () => {
    const r = await cp().kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: agentConfig });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`system:serviceaccount:${agent.namespace}:${agent.name}`);
  });

  it.each(allowed)('allows the agent to %s %s %j', async (verb, resource, extra) => {
    const r = await canI(verb, resource, extra);
    expect(r.stdout.trim()).toBe('yes');
    expect(r.code).toBe(0);
  });

  it.each(denied)('denies the agent to %s %s %j', async (verb, resource, extra) => {
    const r = await canI(verb, resource, extra);
    expect(r.stdout.trim()).toBe('no');
    expect(r.code).not.toBe(0);
  });

  it('lets the agent list Routes but not delete one (real requests, not reviews)', async () => {
    const list = await cp().kubectl(['get', routes, '-o', 'name'], { kubeconfig: agentConfig });
    expect(list.stdout.trim()).toBe(`${ROUTE_KIND.toLowerCase()}.${ROUTE_GROUP}/existing`);
    const del = await cp().kubectl(['delete', routes, 'existing'], { kubeconfig: agentConfig });
    expect(del.code).not.toBe(0);
    expect(del.stderr).toMatch(/Forbidden.*cannot delete resource "routes"/);
  });

  it('serves @kubernetes/client-node in the test process through the local kubeconfig, with the same RBAC', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(await cp().kubeconfigFor(agent.name, agent.namespace, { local: true }));
    const list = (await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: ROUTE_GROUP, version: ROUTE_VERSION, plural: ROUTE_PLURAL })) as {
      items: { metadata: { name: string } }[];
    };
    expect(list.items.map((i) => i.metadata.name)).toEqual(['existing']);
    await expect(kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: agent.namespace })).rejects.toMatchObject({ code: 403 });
  });
});
