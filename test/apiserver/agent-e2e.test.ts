/**
 * The agent end to end against a real API server (needs Go and root): one DigitalOcean-shaped topology, the
 * control plane (etcd + kube-apiserver) in its control-plane namespace, reachable from the node only through the
 * node's routes, and the built agent as a real process in the node namespace with `--kubeconfig` (the agent
 * ServiceAccount's token, the synthesized RBAC: a missing verb fails here). What a user would see:
 * - Routes created through the API server reach the kernel; ECMP is multipath; edits change the kernel route;
 * - a deleted Route's kernel routes go before the object does, and the object really goes;
 * - `kubectl get route -o yaml` shows this node's entry; a dead gateway, a conflict and a kernel error are reported
 *   in status, conditions and Events;
 * - a default-route override through VPC gateways that cannot reach the API server keeps the agent connected;
 * - the API server killed and restarted: no owned route is deleted (ip monitor), and new Routes still arrive;
 * - a Route deleted while the agent is stopped waits for this node's finalizer, released when the agent returns.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parse } from 'yaml';
import {
  agentManifests, ROUTE_GROUP, ROUTE_PLURAL, ROUTE_VERSION, routeObject, type RouteSpec,
} from '../../core/index.js';
import { ownedRoute, ownedRoutes, type AgentProcess } from '../agent/agent-process.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import { runAgent } from '../lab/agent.js';
import { agentKubeconfig as podBoundKubeconfig, agentPodName, standInNode, startLabControlPlane } from '../lab/control-plane.js';
import { CONTROL_PLANE_V4, DEST, NODE, routeGet, until, type Topology } from '../net/topology.js';
import { useTopology } from '../net/use-topology.js';
import { AGENT_OPTIONS, describeWithApiServer, SETUP_TIMEOUT_MS } from './harness.js';

const d = describeWithApiServer;

const agentOpts = AGENT_OPTIONS;
const NODE_NAME = 'node-a';
const FINALIZER = `${NODE_NAME}.nodes.kroute.dev/routes`;
const POOL_LABEL = 'doks.digitalocean.com/node-pool';
const GW = ['10.114.0.3', '10.114.0.4'] as const;
const ORIGINAL = new RegExp(`via ${NODE.publicGatewayV4.replace(/\./g, '\\.')} dev eth0`);

interface NodeEntry {
  readonly nodeName: string;
  readonly state: string;
  readonly reason?: string;
  readonly message?: string;
  readonly activeGateways?: string[];
  readonly observedGeneration?: number;
}
interface RouteYaml {
  readonly metadata: { readonly finalizers?: string[]; readonly deletionTimestamp?: string; readonly generation: number };
  readonly status?: { readonly nodes?: NodeEntry[]; readonly conditions?: { type: string; status: string; reason: string; message?: string }[] };
}

d('the agent end to end on a real API server (agent process in the node namespace; needs Go and root)', () => {
  const topo = useTopology({ gateways: 2 });
  let cp: ControlPlane | undefined;
  let agent: AgentProcess | undefined;
  let agentKubeconfig = '';
  let custom: CustomObjectsApi;
  const t = (): Topology => topo;
  const c = (): ControlPlane => {
    if (!cp) throw new Error('the control plane did not start');
    return cp;
  };

  const startKubeAgent = async (): Promise<AgentProcess> => {
    // The Kubernetes face: no Route folder, the agent's kubeconfig.
    agent = await runAgent(t().built, { kubeconfig: agentKubeconfig, args: ['--resync-seconds', '2', '--log-level', 'debug'], readyMs: 30_000 });
    return agent;
  };
  const apply = (name: string, spec: RouteSpec): Promise<void> => c().apply([routeObject(name, spec)]);
  const kubectl = async (...args: string[]): Promise<string> => {
    const r = await c().kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
    return r.stdout;
  };
  /** The Route as `kubectl get route X -o yaml` shows it, or undefined when it does not exist. */
  const getYaml = async (name: string): Promise<RouteYaml | undefined> => {
    const r = await c().kubectl(['get', 'route', name, '-o', 'yaml']);
    if (r.code !== 0) {
      if (/NotFound/.test(r.stderr)) return undefined;
      throw new Error(r.stderr);
    }
    return parse(r.stdout) as RouteYaml;
  };
  const entry = (r: RouteYaml | undefined): NodeEntry | undefined => r?.status?.nodes?.find((e) => e.nodeName === NODE_NAME);
  const entryWhere = (name: string, pred: (e: NodeEntry) => boolean, what: string): Promise<NodeEntry> =>
    until(`${name}: ${what}`, 30_000, async () => {
      const e = entry(await getYaml(name));
      return e && pred(e) ? e : undefined;
    }, 100);
  const events = async (name: string, reason: string): Promise<{ type: string; message: string; reportingInstance?: string }[]> =>
    (JSON.parse(await kubectl('get', 'events', '-n', 'default', '--field-selector', `involvedObject.name=${name},reason=${reason}`, '-o', 'json')) as {
      items: { type: string; message: string; reportingInstance?: string }[];
    }).items;
  const kernelRoute = (dst: string) => ownedRoute(t().node, dst);
  const routeWhere = (dst: string, pred: (gws: readonly string[] | undefined) => boolean, what: string) =>
    until(`${dst} ${what}`, 30_000, async () => {
      const r = await kernelRoute(dst);
      return pred(r?.gateways) ? (r ?? null) : undefined;
    });

  beforeAll(async () => {
    // The control plane's own namespace: the node reaches 198.18.0.10 only through its routes (eth0, the public
    // gateway, the internet namespace).
    cp = await startLabControlPlane(topo.built, { address: CONTROL_PLANE_V4, crd: true });
    // The synthesized ServiceAccount, ClusterRole, Role and bindings exactly; the DaemonSet has no kubelet to run it.
    await cp.apply(agentManifests(agentOpts).filter((m) => m.kind !== 'DaemonSet'));
    // No kubelet: the Node object and its Ready condition are written as a kubelet would.
    await standInNode(cp, NODE_NAME, { [POOL_LABEL]: 'egress', 'kubernetes.io/hostname': NODE_NAME });
    // The agent's kubeconfig: a token bound to its stand-in Pod on the node, the server as the node sees it
    // (https://198.18.0.10:6443).
    agentKubeconfig = await podBoundKubeconfig(topo.built, cp, agentOpts, NODE_NAME);
    const kc = new KubeConfig();
    kc.loadFromFile(cp.localKubeconfig);
    custom = kc.makeApiClient(CustomObjectsApi);
    expect(await routeGet(topo.node, CONTROL_PLANE_V4)).toMatch(ORIGINAL);
    await startKubeAgent();
  }, SETUP_TIMEOUT_MS);

  it('the agent authenticates as its ServiceAccount with a token bound to its stand-in Pod on this node', async () => {
    const r = await c().kubectl(['auth', 'whoami', '-o', 'json'], { kubeconfig: agentKubeconfig });
    expect(r.stderr).toBe('');
    const who = (JSON.parse(r.stdout) as { status: { userInfo: { username: string; extra?: Record<string, string[]> } } }).status.userInfo;
    expect(who.username).toBe(`system:serviceaccount:${agentOpts.namespace}:${agentOpts.name}`);
    expect(who.extra?.['authentication.kubernetes.io/pod-name']).toEqual([agentPodName(agentOpts, NODE_NAME)]);
    expect(who.extra?.['authentication.kubernetes.io/node-name']).toEqual([NODE_NAME]);
  });

  it('Routes created through the API server reach the kernel; an ECMP Route becomes multipath', async () => {
    await apply('single', { destinations: ['172.20.0.0/16'], gateways: [GW[0]] });
    await apply('ecmp', { destinations: [`${DEST.inFiveV4}/32`, '172.21.0.0/16'], gateways: [...GW] });
    expect((await routeWhere('172.20.0.0/16', (g) => g?.length === 1, 'via one gateway'))?.gateways).toEqual([GW[0]]);
    expect((await routeWhere('172.21.0.0/16', (g) => g?.length === 2, 'multipath'))?.gateways).toEqual([...GW]);
    expect((await kernelRoute(`${DEST.inFiveV4}/32`))?.gateways).toEqual([...GW]);
    expect(await routeGet(t().node, DEST.inFiveV4)).toMatch(/via 10\.114\.0\.[34] dev eth1/);
  });

  it("kubectl get route -o yaml shows this node's entry (Applied) and the finalizer; the Ready condition follows", async () => {
    const e = await entryWhere('ecmp', (x) => x.state === 'Applied', 'Applied');
    expect(e).toMatchObject({ nodeName: NODE_NAME, state: 'Applied', reason: 'Programmed', activeGateways: [...GW], observedGeneration: 1 });
    const r = await until('the Ready condition', 30_000, async () => {
      const y = await getYaml('ecmp');
      return y?.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True') ? y : undefined;
    }, 100);
    expect(r.metadata.finalizers).toEqual([FINALIZER]);
    // The printer columns: NAME DESTINATIONS GATEWAYS APPLIED READY AGE.
    expect(await kubectl('get', 'route', 'ecmp')).toMatch(/^ecmp\s.*\]\s+1\s+True\s+\d+s$/m);
  });

  it('an edited Route changes the kernel route (gateways, then destinations)', async () => {
    await apply('single', { destinations: ['172.20.0.0/16'], gateways: [GW[1]] });
    await routeWhere('172.20.0.0/16', (g) => g?.[0] === GW[1], `via ${GW[1]}`);
    await apply('single', { destinations: ['172.20.0.0/16'], gateways: [...GW] });
    await routeWhere('172.20.0.0/16', (g) => g?.length === 2, 'multipath');
    await apply('single', { destinations: ['172.22.0.0/16'], gateways: [...GW] });
    await routeWhere('172.22.0.0/16', (g) => g?.length === 2, 'added');
    await routeWhere('172.20.0.0/16', (g) => g === undefined, 'gone');
    await entryWhere('single', (x) => x.observedGeneration === 4 && x.state === 'Applied', 'Applied at generation 4');
  });

  it('a deleted Route: its kernel routes go before the object does, and the object is really deleted', async () => {
    const name = 'single';
    const dst = '172.22.0.0/16';
    expect(await kernelRoute(dst)).toBeDefined();
    // Sample object then kernel, over and over: the object gone while its route is still there must never be seen.
    const samples: { object: 'present' | 'deleting' | 'gone'; route: boolean }[] = [];
    const readObject = async (): Promise<'present' | 'deleting' | 'gone'> => {
      try {
        const o = (await custom.getClusterCustomObject({ group: ROUTE_GROUP, version: ROUTE_VERSION, plural: ROUTE_PLURAL, name })) as RouteYaml;
        return o.metadata.deletionTimestamp ? 'deleting' : 'present';
      } catch (e) {
        if ((e as { code?: number }).code === 404) return 'gone';
        throw e;
      }
    };
    await kubectl('delete', 'route', name, '--wait=false');
    const deadline = Date.now() + 30_000;
    for (;;) {
      const object = await readObject();
      const route = (await kernelRoute(dst)) !== undefined;
      samples.push({ object, route });
      if (object === 'gone') break;
      if (Date.now() > deadline) throw new Error(`the Route was not deleted within 30 s; last: ${JSON.stringify(samples.at(-1))}`);
    }
    expect(samples.filter((s) => s.object === 'gone' && s.route)).toEqual([]);
    expect(await kernelRoute(dst)).toBeUndefined();
    expect(await getYaml(name)).toBeUndefined();
    // The other Route is untouched.
    expect((await kernelRoute('172.21.0.0/16'))?.gateways).toEqual([...GW]);
  });

  it('bad but admitted Routes are reported: a dead gateway, a conflict, a kernel error (status, Ready, Events)', async () => {
    await apply('dead-gateway', { destinations: ['172.23.0.0/16'], gateways: ['10.114.0.99'] });
    await apply('zz-conflict', { destinations: ['172.21.0.0/16'], gateways: [GW[0]] });
    await apply('off-link', { destinations: ['172.24.0.0/16'], gateways: ['192.0.2.1'] });

    const dead = await entryWhere('dead-gateway', (x) => x.reason === 'AllGatewaysDown', 'AllGatewaysDown');
    expect(dead).toMatchObject({ state: 'Degraded', reason: 'AllGatewaysDown' });
    expect(dead.message).toContain('10.114.0.99');
    // The route stays through its gateway (as DOKS does), so private destinations never leak to the default route.
    expect((await kernelRoute('172.23.0.0/16'))?.gateways).toEqual(['10.114.0.99']);
    const down = await until('a GatewayDown Event', 30_000, async () => ((await events('dead-gateway', 'GatewayDown')).at(0)));
    expect(down).toMatchObject({ type: 'Warning', reportingInstance: NODE_NAME });
    expect(down.message).toContain('10.114.0.99');

    const conflict = await entryWhere('zz-conflict', (x) => x.state === 'Failed', 'Failed');
    expect(conflict).toMatchObject({ reason: 'DestinationConflict' });
    expect(conflict.message).toContain('held by Route ecmp');
    expect((await kernelRoute('172.21.0.0/16'))?.gateways).toEqual([...GW]);
    const notReady = await until('zz-conflict Ready=False', 30_000, async () => (await getYaml('zz-conflict'))?.status?.conditions?.find((x) => x.type === 'Ready' && x.status === 'False'), 100);
    expect(notReady.reason).toBe('Failed');

    // An off-link gateway is refused by the planner (docs/safety.md), before the kernel would refuse the write.
    const offLink = await entryWhere('off-link', (x) => x.state === 'Failed', 'Failed');
    expect(offLink).toMatchObject({ reason: 'GatewayNotOnLink' });
    expect(offLink.message).toContain('gateway 192.0.2.1 is not on a network this node is connected to');
    const refused = await until('a RouteRefused Event', 30_000, async () => ((await events('off-link', 'RouteRefused')).at(0)));
    expect(refused).toMatchObject({ type: 'Warning' });
    for (const n of ['dead-gateway', 'zz-conflict', 'off-link']) await kubectl('delete', 'route', n, '--timeout=30s');
    await until('bad routes gone', 30_000, async () => ((await kernelRoute('172.23.0.0/16')) ? undefined : true));
  });

  it('a default-route override through gateways that cannot reach the API server keeps the agent connected', async () => {
    // The VPC gateways forward everything except the control plane's network, so only the keep-route reaches it.
    for (const g of t().gateways) await g.ns.ip('route', 'add', 'blackhole', '198.18.0.0/24');
    await apply('egress', { destinations: ['0.0.0.0/0'], gateways: [...GW] });
    await routeWhere('0.0.0.0/1', (g) => g?.length === 2, 'override half');
    await routeWhere('128.0.0.0/1', (g) => g?.length === 2, 'override half');
    expect(await routeGet(t().node, DEST.otherV4)).toMatch(/via 10\.114\.0\.[34] dev eth1/);
    expect(await routeGet(t().node, CONTROL_PLANE_V4)).toMatch(ORIGINAL);
    // Confirmed within the window: the API server answered through the keep-route.
    await until('OverrideApplied', 40_000, async () => (await events('egress', 'OverrideApplied')).at(0), 200);
    // Still connected: a new Route arrives, and its status is written.
    await apply('after-override', { destinations: ['172.25.0.0/16'], gateways: [GW[1]] });
    await routeWhere('172.25.0.0/16', (g) => g?.[0] === GW[1], 'after the override');
    await entryWhere('after-override', (x) => x.state === 'Applied', 'Applied');
    expect(await routeGet(t().node, CONTROL_PLANE_V4)).toMatch(ORIGINAL);
    expect(await ownedRoute(t().node, '0.0.0.0/1')).toBeDefined();
  });

  it('the API server killed (SIGKILL) and restarted: no owned route is deleted; new Routes still arrive', async () => {
    const a = agent;
    if (!a) throw new Error('no agent');
    const before = await ownedRoutes(t().node);
    const monitor = t().node.spawn('ip', ['-N', 'monitor', 'route']);
    const lines: string[] = [];
    createInterface({ input: monitor.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
    try {
      // The monitor is listening once it prints a marker route of another protocol (added and removed here until seen).
      await until('the monitor to listen', 10_000, async () => {
        await t().node.ip('route', 'replace', '192.0.2.99/32', 'via', NODE.publicGatewayV4, 'proto', '99');
        await t().node.ip('route', 'del', '192.0.2.99/32', 'proto', '99');
        return lines.some((l) => l.includes('192.0.2.99')) ? true : undefined;
      });
      const from = a.logs.length;
      await c().stopApiServer('SIGKILL');
      await a.waitForLogs((l) => l.msg === 'informer failed; restarting', 1, 30_000, from);
      // Resyncs run during the outage (every 2 s): wait for two passes, and the override stays.
      await a.waitForLogs((l) => l.msg === 'reconcile requested' && l.why === 'periodic resync', 2, 30_000, a.logs.length);
      expect(await ownedRoutes(t().node)).toEqual(before);
      await c().startApiServer();
      await apply('after-restart', { destinations: ['172.26.0.0/16'], gateways: [GW[0]] });
      await routeWhere('172.26.0.0/16', (g) => g?.[0] === GW[0], 'after the restart');
      await entryWhere('after-restart', (x) => x.state === 'Applied', 'Applied');
    } finally {
      await stopProcess(monitor);
    }
    const deleted = lines.filter((l) => l.startsWith('Deleted') && / proto 145\b/.test(l));
    expect(deleted).toEqual([]);
    expect(await ownedRoutes(t().node)).toEqual(expect.arrayContaining(before));
  });

  it('a Route deleted while the agent is stopped waits for this node\'s finalizer; the agent removes its routes and releases it', async () => {
    const a = agent;
    if (!a) throw new Error('no agent');
    expect(await a.stop()).toBe(0);
    await kubectl('delete', 'route', 'after-override', '--wait=false');
    // The object waits, being deleted, on this node's finalizer, and the kernel route is still there.
    const y = await until('deletionTimestamp', 10_000, async () => getYaml('after-override'));
    expect(y.metadata.deletionTimestamp).toBeDefined();
    expect(y.metadata.finalizers).toEqual([FINALIZER]);
    expect(await kernelRoute('172.25.0.0/16')).toBeDefined();
    await startKubeAgent();
    await routeWhere('172.25.0.0/16', (g) => g === undefined, 'removed by the returning agent');
    await until('the Route gone', 30_000, async () => ((await getYaml('after-override')) ? undefined : true), 100);
    // Everything else stayed.
    expect(await kernelRoute('172.26.0.0/16')).toBeDefined();
    expect(await ownedRoute(t().node, '0.0.0.0/1')).toBeDefined();
  });
});

/** Stops a helper process and waits for it to exit. */
async function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
  p.kill('SIGTERM');
  await exited;
}
