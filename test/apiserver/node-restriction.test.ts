/**
 * The agent's node restriction (core/agent-manifests.ts: ValidatingAdmissionPolicy + binding) on a real API server:
 * ServiceAccount tokens bound to stand-in Pods on two nodes (`kubectl create token --bound-object-kind Pod`, the way
 * a DaemonSet Pod's projected token carries `authentication.kubernetes.io/node-name`). Every write the agent makes is
 * done with the agent's own request bodies (agent/kube) and still works; every forbidden one is refused with a
 * message. There is no kube-controller-manager or scheduler here: the test creates the Node and Pod objects itself.
 * Needs Go and root; skipped locally without them, fails in CI.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { clientNodeApi, statusCode, type KubeApi } from '../../agent/kube/api.js';
import { holdApplyBody, nodeFinalizer, releaseApplyBody, removeFinalizersPatch } from '../../agent/kube/finalizers.js';
import { agentFieldManager, nodeEntriesClearBody, nodeEntryApplyBody, summaryApplyBody, SUMMARY_FIELD_MANAGER } from '../../agent/kube/status.js';
import { agentManifests, resolveAgentManifestOptions, routeObject, ROUTE_GROUP, ROUTE_PLURAL } from '../../core/index.js';
import { requireGoOrSkip } from '../cluster/prereq.js';
import { until } from '../net/topology.js';
import { boundKubeconfigFor, SETUP_TIMEOUT_MS, startApiServerLab, type ApiServerLab } from './harness.js';

const haveGo = await requireGoOrSkip();
const d = haveGo ? describe : describe.skip;

const resolved = resolveAgentManifestOptions();
if (!resolved.ok) throw new Error('the default agent options do not resolve');
const agent = resolved.value;
const ROUTES = `${ROUTE_PLURAL}.${ROUTE_GROUP}`;
const USER = `system:serviceaccount:${agent.namespace}:${agent.name}`;
const DENIED = /ValidatingAdmissionPolicy 'kroute-agent-node-restriction' with binding 'kroute-agent-node-restriction' denied request/;

interface NodeIdentity {
  /** kubeconfig for kubectl inside the control plane's namespace. */
  readonly kubeconfig: string;
  /** The agent's own API adapter, in the test process. */
  readonly api: KubeApi;
}

d('the agent is node-restricted (ValidatingAdmissionPolicy, real API server, tokens bound to Pods on two nodes)', () => {
  let lab: ApiServerLab | undefined;
  const ids: Record<string, NodeIdentity> = {};
  let unbound = '';
  const cp = (): ApiServerLab['cp'] => {
    if (!lab) throw new Error('the control plane did not start');
    return lab.cp;
  };
  const as = (node: string, args: string[], input?: string) => cp().kubectl(args, { kubeconfig: ids[node].kubeconfig, ...(input ? { input } : {}) });
  const get = async (name: string): Promise<{ metadata: { uid: string; finalizers?: string[]; labels?: Record<string, string>; deletionTimestamp?: string }; spec: { gateways: string[] }; status?: { nodes?: { nodeName: string; state: string }[]; appliedNodes?: number } }> => {
    const r = await cp().kubectl(['get', `${ROUTES}/${name}`, '-o', 'json']);
    if (r.code !== 0) throw new Error(r.stderr);
    return JSON.parse(r.stdout);
  };
  const fresh = async (name: string) => {
    await cp().kubectl(['delete', `${ROUTES}/${name}`, '--ignore-not-found', '--wait=false']);
    await cp().apply([routeObject(name, {
      destinations: ['10.70.0.0/16'], gateways: ['10.114.0.3'],
      nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['egress'] }] }] },
    })]);
    return (await get(name)).metadata.uid;
  };
  const rejection = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
    } catch (e) {
      const body = (e as { body?: unknown }).body;
      return `${statusCode(e)} ${typeof body === 'string' ? body : JSON.stringify(body)}`;
    }
    throw new Error('the write was accepted');
  };

  async function identity(node: string): Promise<NodeIdentity> {
    await cp().apply([{ apiVersion: 'v1', kind: 'Node', metadata: { name: node, labels: { pool: 'egress' } } }]);
    const kubeconfig = await boundKubeconfigFor(cp(), agent.name, agent.namespace, node);
    const kc = new KubeConfig();
    kc.loadFromFile(await boundKubeconfigFor(cp(), agent.name, agent.namespace, node, { local: true }));
    return { kubeconfig, api: clientNodeApi(kc) };
  }

  beforeAll(async () => {
    lab = await startApiServerLab({ crd: true });
    await lab.cp.apply(agentManifests(agent));
    ids['node-a'] = await identity('node-a');
    ids['node-b'] = await identity('node-b');
    unbound = await lab.cp.kubeconfigFor(agent.name, agent.namespace);
    await fresh('probe');
    // The policy takes effect once the API server has loaded and type-checked it: wait for its first refusal.
    await until('the node-restriction policy in force', 60_000, async () => {
      const r = await cp().kubectl(['label', `${ROUTES}/probe`, 'x=y'], { kubeconfig: unbound });
      return r.code !== 0 && DENIED.test(r.stderr) ? true : undefined;
    }, 250);
  }, SETUP_TIMEOUT_MS);

  afterAll(async () => {
    await lab?.stop();
  });

  it('the bound tokens carry their node name', async () => {
    for (const node of ['node-a', 'node-b']) {
      const r = await as(node, ['auth', 'whoami', '-o', 'json']);
      const who = JSON.parse(r.stdout) as { status: { userInfo: { username: string; extra: Record<string, string[]> } } };
      expect(who.status.userInfo.username).toBe(USER);
      expect(who.status.userInfo.extra['authentication.kubernetes.io/node-name']).toEqual([node]);
    }
  });

  it('every write the agent makes still works: its finalizer, its status entry, the summary, events, release', async () => {
    const uid = await fresh('needed');
    const a = ids['node-a'].api;
    const b = ids['node-b'].api;
    await a.applyRoute('needed', holdApplyBody('needed', uid, 'node-a'), agentFieldManager('node-a'));
    await b.applyRoute('needed', holdApplyBody('needed', uid, 'node-b'), agentFieldManager('node-b'));
    expect((await get('needed')).metadata.finalizers?.sort()).toEqual([nodeFinalizer('node-a'), nodeFinalizer('node-b')]);
    await a.applyRouteStatus('needed', nodeEntryApplyBody('needed', { nodeName: 'node-a', state: 'Applied', reason: 'Programmed' }), agentFieldManager('node-a'));
    await b.applyRouteStatus('needed', nodeEntryApplyBody('needed', { nodeName: 'node-b', state: 'Failed', reason: 'KernelError' }), agentFieldManager('node-b'));
    await a.applyRouteStatus('needed', nodeEntryApplyBody('needed', { nodeName: 'node-a', state: 'Applied', reason: 'GatewaysDown' }), agentFieldManager('node-a'));
    const ready = { type: 'Ready', status: 'False', reason: 'NotAllApplied', message: '1 of 2', lastTransitionTime: new Date().toISOString() };
    await a.applyRouteStatus('needed', summaryApplyBody('needed', { appliedNodes: 1, selectedNodes: 2, ready } as never), SUMMARY_FIELD_MANAGER);
    let st = (await get('needed')).status;
    expect(st?.nodes?.map((n) => [n.nodeName, n.state])).toEqual([['node-a', 'Applied'], ['node-b', 'Failed']]);
    expect(st?.appliedNodes).toBe(1);
    await a.applyRouteStatus('needed', nodeEntriesClearBody('needed'), agentFieldManager('node-a'));
    st = (await get('needed')).status;
    expect(st?.nodes?.map((n) => n.nodeName)).toEqual(['node-b']);
    await a.createEvent('default', {
      metadata: { generateName: 'needed.' }, involvedObject: { apiVersion: 'networking.doks.digitalocean.com/v1alpha1', kind: 'Route', name: 'needed', uid },
      reason: 'GatewayDown', message: 'test', type: 'Warning', source: { component: 'kroute-agent', host: 'node-a' },
      firstTimestamp: new Date().toISOString(), lastTimestamp: new Date().toISOString(), count: 1,
    });
    await a.applyRoute('needed', releaseApplyBody('needed', uid), agentFieldManager('node-a'));
    expect((await get('needed')).metadata.finalizers).toEqual([nodeFinalizer('node-b')]);
  });

  /** The stderr of a kubectl call that must fail. */
  const refusedKubectl = async (node: string, args: string[]): Promise<string> => {
    const r = await as(node, args);
    if (r.code === 0) throw new Error(`kubectl ${args.join(' ')} was accepted`);
    return r.stderr;
  };
  type Attempt = (route: string) => Promise<string>;
  const kubectlAs = (node: string, verb: string, ...rest: string[]): Attempt => (route) => refusedKubectl(node, [verb, `${ROUTES}/${route}`, ...rest]);
  const forbidden: [string, Attempt, RegExp][] = [
    ['change the gateways', kubectlAs('node-a', 'patch', '--type=merge', '-p', '{"spec":{"gateways":["10.114.0.66"]}}'), /may not change a Route's spec/],
    ['drop the nodeSelector', kubectlAs('node-a', 'patch', '--type=json', '-p', '[{"op":"remove","path":"/spec/nodeSelector"}]'), /may not change a Route's spec/],
    ['change the destinations', kubectlAs('node-b', 'patch', '--type=merge', '-p', '{"spec":{"destinations":["0.0.0.0/0"]}}'), /may not change a Route's spec/],
    ['add a label', kubectlAs('node-a', 'label', 'owner=attacker'), /may not change a Route's labels, annotations or owner references/],
    ['add an annotation', kubectlAs('node-a', 'annotate', 'x=y'), /may not change a Route's labels, annotations or owner references/],
    ['add a foreign finalizer', kubectlAs('node-a', 'patch', '--type=json', '-p', '[{"op":"add","path":"/metadata/finalizers/-","value":"example.com/hang"}]'),
      /on node node-a may add only its own finalizer node-a\.nodes\.kroute\.dev\/routes/],
    ["add another node's finalizer", kubectlAs('node-a', 'patch', '--type=json', '-p', `[{"op":"add","path":"/metadata/finalizers/-","value":"${nodeFinalizer('node-c')}"}]`),
      /may add only its own finalizer/],
    ["remove another node's finalizer from a live Route", kubectlAs('node-a', 'patch', '--type=json', '-p', '[{"op":"remove","path":"/metadata/finalizers/0"}]'),
      /on node node-a may remove only its own finalizer node-a\.nodes\.kroute\.dev\/routes/],
    ["replace every node's status entry", (route) => rejection(ids['node-a'].api.jsonPatchRouteStatus(route, [{ op: 'replace', path: '/status/nodes', value: [{ nodeName: 'node-a', state: 'Applied' }] }] as never)),
      /on node node-a may change only its own entry in status\.nodes/],
    ["rewrite another node's status entry", (route) => rejection(ids['node-b'].api.jsonPatchRouteStatus(route, [{ op: 'replace', path: '/status/nodes/0/state', value: 'Failed' }] as never)),
      /on node node-b may change only its own entry in status\.nodes/],
    ["apply another node's status entry with its own field manager", (route) => rejection(ids['node-b'].api.applyRouteStatus(route, nodeEntryApplyBody(route, { nodeName: 'node-a', state: 'Failed' }), agentFieldManager('node-b'))),
      /on node node-b may change only its own entry in status\.nodes/],
    ['change the spec with its own server-side apply body', (route) => rejection(ids['node-a'].api.applyRoute(route, { ...holdApplyBody(route, undefined, 'node-a'), spec: { destinations: ['0.0.0.0/0'], gateways: ['10.114.0.66'] } }, agentFieldManager('node-a'))),
      /may not change a Route's spec/],
  ];

  let victims = 0;
  it.each(forbidden)('refuses a node token that tries to %s, with a message, and changes nothing', async (_what, attempt, message) => {
    const name = `victim-${++victims}`;
    const uid = await fresh(name);
    await ids['node-a'].api.applyRouteStatus(name, nodeEntryApplyBody(name, { nodeName: 'node-a', state: 'Applied' }), agentFieldManager('node-a'));
    await ids['node-b'].api.applyRouteStatus(name, nodeEntryApplyBody(name, { nodeName: 'node-b', state: 'Applied' }), agentFieldManager('node-b'));
    await ids['node-b'].api.applyRoute(name, holdApplyBody(name, uid, 'node-b'), agentFieldManager('node-b'));
    const before = await get(name);
    expect(before.status?.nodes?.map((n) => n.nodeName)).toEqual(['node-a', 'node-b']);
    const text = await attempt(name);
    expect(text).toMatch(DENIED);
    expect(text).toMatch(message);
    const after = await get(name);
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata.labels).toEqual(before.metadata.labels);
    expect(after.metadata.finalizers).toEqual(before.metadata.finalizers);
    expect(after.status).toEqual(before.status);
  });

  it('refuses a token of the agent ServiceAccount that is not bound to a Pod on a node', async () => {
    const uid = await fresh('unbound');
    const r = await cp().kubectl(['patch', `${ROUTES}/unbound`, '--type=json', '-p', `[{"op":"add","path":"/metadata/finalizers","value":["${nodeFinalizer('node-a')}"]}]`], { kubeconfig: unbound });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/token must be bound to a Pod on a node/);
    expect(uid).not.toBe('');
  });

  it("lets an agent remove a dead node's finalizer only from a Route being deleted (housekeeping)", async () => {
    const uid = await fresh('dying');
    await ids['node-b'].api.applyRoute('dying', holdApplyBody('dying', uid, 'node-b'), agentFieldManager('node-b'));
    const del = await cp().kubectl(['delete', `${ROUTES}/dying`, '--wait=false']);
    expect(del.code).toBe(0);
    const dying = await get('dying');
    expect(dying.metadata.deletionTimestamp).toBeDefined();
    await ids['node-a'].api.jsonPatchRoute('dying', removeFinalizersPatch(dying.metadata.finalizers ?? [], [nodeFinalizer('node-b')]));
    await until('the Route gone', 10_000, async () => ((await cp().kubectl(['get', `${ROUTES}/dying`])).code !== 0 ? true : undefined));
  });
});
