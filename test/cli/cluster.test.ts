/**
 * `kroute plan` and `kroute explain` against a real API server and a real node kernel (needs Go and root): the
 * DigitalOcean-shaped topology, the control plane in its namespace, the agent as a process in the node namespace
 * (its own ServiceAccount token), and kroute run in the node namespace with a read-only token (the kroute-viewer
 * ClusterRole, core/cli-rbac.ts). What a user would see:
 * - on a node in sync, plan says nothing to change (exit 0);
 * - with drift (a hand-deleted route, a changed label), plan prints exactly the changes the agent then makes, as
 *   `ip monitor` sees them once the agent starts; plan itself changes nothing (the monitor stays quiet);
 * - `plan -f` for a new Route matches what appears in the kernel after applying it;
 * - explain names the failing selector term of an unselected node and the holder of a conflicting slot;
 * - the token kroute used cannot write; the agent's --dry-run writes neither the kernel nor the API.
 */
import { stringify } from 'yaml';
import { cliViewerClusterRole, cliViewerClusterRoleBinding, routeObject, type RouteSpec } from '../../core/index.js';
import type { NodePlanReport, ProposalNodeReport } from '../../agent/cli/changes.js';
import type { NodeExplanation, RouteExplanation } from '../../agent/cli/explain.js';
import { ownedRoute, ownedRoutes, type AgentProcess } from '../agent/agent-process.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import { runAgent } from '../lab/agent.js';
import { until, type Topology } from '../net/topology.js';
import { describeWithApiServer, SETUP_TIMEOUT_MS, useApiServerTopology } from '../apiserver/harness.js';
import { capture, kroute, krouteJson, monitor } from './kroute-process.js';

const d = describeWithApiServer;

const POOL = 'doks.digitalocean.com/node-pool';
const GW = ['10.114.0.3', '10.114.0.4'] as const;

d('kroute plan and explain on a real API server and node kernel (read-only token; needs Go and root)', () => {
  // node-a (the agent's, its token bound to a stand-in Pod there) and node-b, in two pools.
  const cluster = useApiServerTopology({ gateways: 2, echo: false, crd: true, agentObjects: true, nodes: { 'node-a': { [POOL]: 'egress' }, 'node-b': { [POOL]: 'worker' } } });
  let agent: AgentProcess | undefined;
  let viewer = '';
  const t = (): Topology => cluster.topo;
  const c = (): ControlPlane => cluster.cp;
  const apply = (name: string, spec: RouteSpec): Promise<void> => c().apply([routeObject(name, spec)]);
  const startKubeAgent = async (extra: readonly string[] = []): Promise<AgentProcess> => {
    // DOKS probe timing: a probe lost under load must not change a route while the test compares kernel changes.
    const args = ['--resync-seconds', '2', '--probe-interval-seconds', '30', '--probe-timeout-seconds', '1', '--probe-fall-count', '3', ...extra];
    agent = await runAgent(t().built, { kubeconfig: cluster.kubeconfigOf('node-a'), args, ready: extra.includes('--dry-run') ? 'dry-run: would change the kernel' : 'applied', readyMs: 30_000 });
    return agent;
  };
  const stopAgent = async () => {
    await agent?.stop();
    agent = undefined;
  };
  /** kroute in the node namespace, as on the node, with the read-only token and the agent's resolv.conf. */
  const onNode = (args: readonly string[]) => [...args, '--kubeconfig', viewer, '--resolv-conf', t().resolvConf];
  const planLocal = (extra: readonly string[] = []) => krouteJson<NodePlanReport>(onNode(['plan', 'node-a', '--host', 'local', ...extra]), t().node);
  const label = async (node: string, value: string) => {
    const r = await c().kubectl(['label', 'node', node, `${POOL}=${value}`, '--overwrite']);
    if (r.code !== 0) throw new Error(r.stderr);
  };
  const statusOf = async (route: string, node: string) => {
    const r = await c().kubectl(['get', 'route', route, '-o', 'json']);
    const o = JSON.parse(r.stdout) as { status?: { nodes?: { nodeName: string; state: string; reason?: string }[] } };
    return o.status?.nodes?.find((e) => e.nodeName === node);
  };

  beforeAll(async () => {
    const cp = c();
    await cp.apply([
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'kroute-viewer', namespace: 'default' } },
      cliViewerClusterRole(),
      cliViewerClusterRoleBinding({ kind: 'ServiceAccount', name: 'kroute-viewer', namespace: 'default' }),
    ]);
    viewer = await cp.kubeconfigFor('kroute-viewer', 'default');
    await apply('a-egress-only', { destinations: ['172.20.0.0/16'], gateways: [GW[0]], nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [{ key: POOL, operator: 'In', values: ['egress'] }] }] } });
    await apply('b-everywhere', { destinations: ['172.21.0.0/16'], gateways: [...GW] });
    await apply('c-worker-only', { destinations: ['172.22.0.0/16'], gateways: [GW[1]], nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [{ key: POOL, operator: 'In', values: ['worker'] }] }] } });
    await startKubeAgent();
    await until('the agent programmed both Routes', 30_000, async () => ((await ownedRoute(t().node, '172.20.0.0/16')) && (await ownedRoute(t().node, '172.21.0.0/16')) ? true : undefined));
    await until('the agent reported Applied', 30_000, async () => ((await statusOf('b-everywhere', 'node-a'))?.state === 'Applied' ? true : undefined), 100);
  }, SETUP_TIMEOUT_MS);

  it('the token kroute uses can only read: writes are forbidden by its RBAC', async () => {
    for (const verb of ['create', 'patch', 'delete', 'update']) {
      const r = await c().kubectl(['auth', 'can-i', verb, 'routes.networking.doks.digitalocean.com'], { kubeconfig: viewer });
      expect(r.stdout.trim()).toBe('no');
    }
    expect((await c().kubectl(['auth', 'can-i', 'list', 'routes.networking.doks.digitalocean.com'], { kubeconfig: viewer })).stdout.trim()).toBe('yes');
    expect((await c().kubectl(['auth', 'can-i', 'patch', 'nodes'], { kubeconfig: viewer })).stdout.trim()).toBe('no');
    const w = await c().kubectl(['label', 'node', 'node-a', 'x=y'], { kubeconfig: viewer });
    expect(w.code).not.toBe(0);
    expect(w.stderr).toMatch(/forbidden/i);
  });

  it('on a node in sync, plan prints no changes and exits 0', async () => {
    const m = monitor(t());
    const a = await m.mark();
    const r = await planLocal();
    const b = await m.mark();
    m.stop();
    expect(r.code).toBe(0);
    expect(r.value.changes.routes).toEqual([]);
    expect(r.value.changes.rules).toEqual([]);
    expect(r.value.host).toEqual({ source: 'local', kernelRead: true });
    expect(r.value.outcomes.map((o) => [o.route, o.state])).toEqual([['a-egress-only', 'Applied'], ['b-everywhere', 'Applied'], ['c-worker-only', 'NotSelected']]);
    expect(m.between(a, b)).toEqual([]);
    const table = await kroute(onNode(['plan', 'node-a', '--host', 'local']), t().node);
    expect(table.stdout).toContain('No kernel changes');
    capture('plan-in-sync', table, 'kroute plan node-a --host local');
  });

  it('with drift (a hand-deleted route, a changed label) plan prints exactly what the agent then changes, and changes nothing itself', async () => {
    await stopAgent();
    await t().node.ip('route', 'del', '172.21.0.0/16', 'proto', '145');
    await label('node-a', 'worker');
    const m = monitor(t());
    const a = await m.mark();
    const r = await planLocal();
    const b = await m.mark();
    // plan read the kernel and the API; the monitor saw nothing but the markers.
    expect(m.between(a, b)).toEqual([]);
    expect(r.code).toBe(2);
    const planned = r.value.changes.routes.map((x) => [x.action, x.dst, x.route ?? '']).sort();
    expect(planned).toEqual([
      ['add', '172.21.0.0/16', 'b-everywhere'],
      ['add', '172.22.0.0/16', 'c-worker-only'],
      ['remove', '172.20.0.0/16', ''],
    ]);
    expect(r.value.node.labels[POOL]).toBe('worker');
    capture('plan-drift', await kroute(onNode(['plan', 'node-a', '--host', 'local']), t().node), 'kroute plan node-a --host local');
    // The agent starts: what ip monitor sees is exactly the plan.
    await startKubeAgent();
    await until('the agent caught up', 30_000, async () => ((await ownedRoute(t().node, '172.22.0.0/16')) && !(await ownedRoute(t().node, '172.20.0.0/16')) ? true : undefined));
    const c2 = await m.mark();
    m.stop();
    const seen = [...new Set(m.owned(b, c2).map((x) => `${x.deleted ? 'remove' : 'add'} ${x.dst}`))].sort();
    expect(seen).toEqual(planned.map(([action, dst]) => `${action === 'replace' ? 'add' : action} ${dst}`).sort());
    // And now there is nothing left to do.
    expect((await planLocal()).code).toBe(0);
  });

  it('plan -f for a new Route matches what appears in the kernel after applying it', async () => {
    const proposal = routeObject('d-new', { destinations: ['172.23.0.0/16', '172.24.0.0/16'], gateways: [...GW] });
    const file = `${t().dir}/d-new.yaml`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(file, stringify(proposal));
    const r = await krouteJson<{ kind: string; nodes: ProposalNodeReport[]; pending: boolean }>(onNode(['plan', 'node-a', '--host', 'local', '-f', file]), t().node);
    expect(r.code).toBe(2);
    expect(r.value.kind).toBe('ProposalPlan');
    const [n] = r.value.nodes;
    expect(n.outcomes).toEqual([expect.objectContaining({ route: 'd-new', state: 'Applied', activeGateways: [...GW] })]);
    // Across the cluster (no node named): both nodes get it.
    const all = await krouteJson<{ nodes: ProposalNodeReport[] }>(onNode(['plan', '-f', file]), t().node);
    expect(all.value.nodes.map((x) => [x.node.name, x.outcomes[0]?.state])).toEqual([['node-a', 'Applied'], ['node-b', 'Applied']]);
    capture('plan-f', await kroute(onNode(['plan', 'node-a', '--host', 'local', '-f', file]), t().node), 'kroute plan node-a --host local -f d-new.yaml');

    const before = await ownedRoutes(t().node);
    await c().apply([proposal]);
    await until('d-new in the kernel', 30_000, async () => ((await ownedRoute(t().node, '172.24.0.0/16')) ? true : undefined));
    const after = await ownedRoutes(t().node);
    const key = (x: { dst: string; table: string; gateways: readonly string[] }) => `${x.dst} ${x.table === 'main' ? 254 : x.table} ${[...x.gateways].sort().join(',')}`;
    const appeared = after.filter((x) => !before.some((y) => key(y) === key(x))).map(key).sort();
    const predicted = n.changes.routes.filter((x) => x.action !== 'remove').map((x) => `${x.dst} ${x.table} ${x.nexthops.map((h) => h.gateway ?? '').sort().join(',')}`).sort();
    expect(appeared).toEqual(predicted);
    expect(n.changes.routes.filter((x) => x.action === 'remove')).toEqual([]);
  });

  it('explain route names the failing selector term for an unselected node; explain names the holder of a conflicting slot', async () => {
    const r = await krouteJson<RouteExplanation>(onNode(['explain', 'route', 'a-egress-only']), t().node);
    // node-a now has pool=worker: the Route selects no node, and says which requirement failed on each.
    expect(r.value.nodes.map((x) => [x.node, x.selected])).toEqual([['node-a', false], ['node-b', false]]);
    const miss = r.value.nodes[0].misses[0];
    expect(miss).toMatchObject({ term: 0, field: 'nodeSelectorTerms[0].matchExpressions[0]', nodeValue: 'worker', requirement: { key: POOL, operator: 'In', values: ['egress'] } });
    const table = await kroute(onNode(['explain', 'route', 'a-egress-only']), t().node);
    expect(table.stdout).toContain(`node-a: nodeSelectorTerms[0].matchExpressions[0]: ${POOL} In [egress] does not hold (node has "worker")`);
    capture('explain-route-unselected', table, 'kroute explain route a-egress-only');

    await apply('zz-copy', { destinations: ['172.21.0.0/16'], gateways: [GW[1]] });
    await until('node-a reports the conflict', 30_000, async () => ((await statusOf('zz-copy', 'node-a'))?.reason === 'DestinationConflict' ? true : undefined), 100);
    const e = await krouteJson<RouteExplanation>(onNode(['explain', 'route', 'zz-copy']), t().node);
    expect(e.code).toBe(2);
    const onA = e.value.nodes.find((x) => x.node === 'node-a');
    expect(onA?.planned?.conflicts).toEqual([{ destination: '172.21.0.0/16', heldBy: 'b-everywhere' }]);
    expect(onA?.reported).toMatchObject({ state: 'Failed', reason: 'DestinationConflict', stale: false });
    expect(onA?.reported?.since).toMatch(/^\d{4}-\d\d-\d\dT/);
    const text = await kroute(onNode(['explain', 'route', 'zz-copy']), t().node);
    expect(text.stdout).toContain('node-a: 172.21.0.0/16 is held by Route b-everywhere');
    capture('explain-route-conflict', text, 'kroute explain route zz-copy');

    for (const name of ['c-worker-only', 'd-new']) {
      await until(`node-a reports ${name} Applied`, 30_000, async () => ((await statusOf(name, 'node-a'))?.state === 'Applied' ? true : undefined), 100);
    }
    const n = await krouteJson<NodeExplanation>(onNode(['explain', 'node', 'node-a']), t().node);
    expect(n.code).toBe(2);
    expect(n.value.routes.map((x) => [x.route, x.selected, x.planned?.state ?? '-', x.reported?.state ?? '-'])).toEqual([
      ['a-egress-only', false, '-', '-'],
      ['b-everywhere', true, 'Applied', 'Applied'],
      ['c-worker-only', true, 'Applied', 'Applied'],
      ['d-new', true, 'Applied', 'Applied'],
      ['zz-copy', true, 'Failed', 'Failed'],
    ]);
    capture('explain-node', await kroute(onNode(['explain', 'node', 'node-a']), t().node), 'kroute explain node node-a');
  });

  it("the agent's --dry-run logs the plan's changes and writes neither the kernel nor the API", async () => {
    await stopAgent();
    await t().node.ip('route', 'del', '172.23.0.0/16', 'proto', '145');
    const planned = (await planLocal()).value.changes.routes.map((x) => [x.action, x.dst]);
    expect(planned).toEqual([['add', '172.23.0.0/16']]);
    const versions = async () => (await c().kubectl(['get', 'routes', '-o', 'jsonpath={range .items[*]}{.metadata.name}={.metadata.resourceVersion} {end}'])).stdout.trim();
    const rvBefore = await versions();
    const m = monitor(t());
    const a = await m.mark();
    const dry = await startKubeAgent(['--dry-run', '--log-level', 'debug']);
    const line = await dry.waitForLog((l) => l.msg === 'dry-run: would change the kernel', 30_000, 'the dry-run plan');
    // A periodic resync later (every 2 s here) it still wants the same, and has written nothing.
    await dry.waitForLogs((l) => l.msg === 'dry-run: would change the kernel', 2, 30_000);
    const b = await m.mark();
    m.stop();
    expect((line.routes as { action: string; dst: string }[]).map((x) => [x.action, x.dst])).toEqual(planned);
    expect(m.between(a, b)).toEqual([]);
    expect(await ownedRoute(t().node, '172.23.0.0/16')).toBeUndefined();
    expect(await versions()).toBe(rvBefore);
    capture('dry-run', { code: 0, stdout: JSON.stringify(line) + '\n', stderr: '' }, 'kroute-agent --dry-run ... (one log line)');
    await stopAgent();
  });
});
