/**
 * `kroute` offline (the built command as a process; no cluster, no root): Routes from files through the agent's
 * file source, the node from --node-name/--node-labels, a stand-in host description. What a user sees: the changes
 * as a table and as stable JSON, what is refused and why, `plan -f`, `explain` with the failing selector term, and
 * exit codes 0 / 2 / 1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { NodePlanReport, ProposalNodeReport } from '../../agent/cli/changes.js';
import { cliViewerClusterRole } from '../../core/index.js';
import { REPO_ROOT } from '../agent/agent-process.js';
import type { NodeExplanation, RouteExplanation } from '../../agent/cli/explain.js';
import { kroute, krouteJson } from './kroute-process.js';

const POOL = 'doks.digitalocean.com/node-pool';
let dir = '';
let routes = '';
let host = '';

const route = (name: string, spec: string) => `apiVersion: networking.doks.digitalocean.com/v1alpha1
kind: Route
metadata: {name: ${name}}
spec: ${spec}
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kroute-cli-'));
  routes = join(dir, 'routes');
  mkdirSync(routes);
  writeFileSync(join(routes, 'a.yaml'), [
    route('vpn', '{destinations: ["172.16.0.0/12"], gateways: ["10.114.0.5"]}'),
    route('egress', `{destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3", "10.114.0.4"], nodeSelector: {nodeSelectorTerms: [{matchExpressions: [{key: ${POOL}, operator: In, values: [egress-pool]}]}, {matchFields: [{key: metadata.name, operator: In, values: [special]}]}]}}`),
    route('zz-copy', '{destinations: ["172.16.0.0/12", "192.168.0.0/16"], gateways: ["10.114.0.6"]}'),
  ].join('---\n'));
  writeFileSync(join(routes, 'b.yaml'), route('bad', '{destinations: ["10.0.0.999/8"], gateways: ["10.114.0.5"]}'));
  host = join(dir, 'host.yaml');
  writeFileSync(host, `defaultV4: {gateway: 203.0.113.1, dev: eth0}
publicInterface: {name: eth0, addresses: [203.0.113.10], gatewayV4: 203.0.113.1}
connected: [10.114.0.0/20, 203.0.113.0/24]
dnsServers: [192.0.2.53]
controlPlaneAddresses: [198.18.0.10]
`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const offline = (labels: string, ...more: string[]) => ['--routes', routes, '--node-name', 'n1', '--node-labels', labels, ...more];

describe('kroute offline (files, a stand-in host; no cluster)', () => {
  it('plan prints every kernel change of an egress node (keep-routes, the /1 pair, symmetric routing) and what is refused, exit 2', async () => {
    const r = await krouteJson<NodePlanReport>(['plan', ...offline(`${POOL}=egress-pool`, '--host', host)]);
    expect(r.code).toBe(2);
    expect(Object.keys(r.value)).toEqual(['kind', 'node', 'host', 'changes', 'unchanged', 'probes', 'refused', 'outcomes', 'problems', 'pending']);
    expect(r.value.host).toEqual({ source: 'file', kernelRead: false });
    expect(r.value.changes.routes.map((c) => [c.action, c.dst, c.table, c.nexthops.map((h) => h.gateway).join(','), c.route])).toEqual([
      ['add', '169.254.169.254/32', 254, '203.0.113.1', ''],
      ['add', '192.0.2.53/32', 254, '203.0.113.1', ''],
      ['add', '198.18.0.10/32', 254, '203.0.113.1', ''],
      ['add', '0.0.0.0/0', 135, '203.0.113.1', ''],
      ['add', '0.0.0.0/1', 254, '10.114.0.3,10.114.0.4', 'egress'],
      ['add', '128.0.0.0/1', 254, '10.114.0.3,10.114.0.4', 'egress'],
      ['add', '172.16.0.0/12', 254, '10.114.0.5', 'vpn'],
      ['add', '192.168.0.0/16', 254, '10.114.0.6', 'zz-copy'],
    ]);
    expect(r.value.changes.rules).toEqual([{ action: 'add', family: 4, priority: 15135, src: '203.0.113.10/32', table: 135 }]);
    expect(r.value.changes.sysctls.map((s) => s.action)).toEqual(['unknown', 'unknown', 'unknown']);
    expect(r.value.refused).toEqual([
      expect.objectContaining({ route: 'bad', reason: 'InvalidRoute', message: expect.stringContaining('spec.destinations[0]: "10.0.0.999/8"') }),
      { route: 'zz-copy', reason: 'PartialConflict', destination: '172.16.0.0/12', heldBy: 'vpn', message: '172.16.0.0/12 is held by Route vpn (the first by name wins)' },
    ]);
    expect(r.value.probes.gateways).toEqual(['10.114.0.3', '10.114.0.4', '10.114.0.5', '10.114.0.6']);
    const table = await kroute(['plan', ...offline(`${POOL}=egress-pool`, '--host', host)]);
    expect(table.code).toBe(2);
    expect(table.stdout).toMatch(/^add\s+0\.0\.0\.0\/1\s+main\s+via 10\.114\.0\.3, via 10\.114\.0\.4\s+Route egress$/m);
    expect(table.stdout).toMatch(/^zz-copy\s+PartialConflict\s+172\.16\.0\.0\/12 is held by Route vpn/m);
  });

  it('an override without a host description says the keep-routes cannot be planned', async () => {
    const r = await krouteJson<NodePlanReport>(['plan', ...offline(`${POOL}=egress-pool`)]);
    expect(r.value.host.source).toBe('none');
    expect(r.value.refused.filter((x) => x.reason === 'NodeProblem').map((x) => x.message)).toEqual([
      expect.stringContaining('but the node has no IPv4 default route of its own'),
    ]);
  });

  it('the agent options shape the plan: --gateways-down, --forward-probe-target', async () => {
    const r = await krouteJson<NodePlanReport>(['plan', ...offline(`${POOL}=egress-pool`, '--host', host, '--gateways-down', '10.114.0.3', '--forward-probe-target', '192.0.2.80')]);
    expect(r.value.changes.routes.find((c) => c.dst === '0.0.0.0/1')?.nexthops).toEqual([{ gateway: '10.114.0.4' }]);
    expect(r.value.outcomes.find((o) => o.route === 'egress')).toMatchObject({ reason: 'GatewaysDown', activeGateways: ['10.114.0.4'] });
    expect(r.value.probes.forward.map((f) => f.gateway)).toEqual(['10.114.0.3', '10.114.0.4', '10.114.0.5', '10.114.0.6']);
    expect(r.value.changes.rules.filter((x) => x.fwmark !== undefined)).toHaveLength(4);
  });

  it('a node no Route selects has nothing to change: exit 0', async () => {
    writeFileSync(join(dir, 'only-egress.yaml'), route('egress', `{destinations: ["0.0.0.0/0"], gateways: ["10.114.0.3"], nodeSelector: {nodeSelectorTerms: [{matchExpressions: [{key: ${POOL}, operator: In, values: [egress-pool]}]}]}}`));
    const r = await kroute(['plan', '--routes', join(dir, 'only-egress.yaml'), '--node-name', 'n1', '--node-labels', `${POOL}=worker`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('No kernel changes');
    expect(r.stdout).toMatch(/^egress\s+NotSelected\s+NodeNotSelected\s+no nodeSelector term matches/m);
  });

  it('plan -f shows what a proposed Route changes: it takes a destination by name order, the loser is told', async () => {
    const f = join(dir, 'aa-db.yaml');
    writeFileSync(f, route('aa-db', '{destinations: ["192.168.0.0/16", "10.200.0.0/16"], gateways: ["10.114.0.7"]}'));
    const r = await krouteJson<{ kind: string; proposed: string[]; nodes: ProposalNodeReport[]; pending: boolean }>(['plan', ...offline(`${POOL}=worker`, '-f', f)]);
    expect(r.code).toBe(2);
    expect(r.value.proposed).toEqual(['aa-db']);
    const [n] = r.value.nodes;
    expect(n.changes.routes.map((c) => [c.action, c.dst, c.before?.map((h) => h.gateway) ?? [], c.nexthops.map((h) => h.gateway)])).toEqual([
      ['add', '10.200.0.0/16', [], ['10.114.0.7']],
      ['replace', '192.168.0.0/16', ['10.114.0.6'], ['10.114.0.7']],
    ]);
    expect(n.affected).toEqual([expect.objectContaining({ route: 'zz-copy', state: 'Failed', reason: 'DestinationConflict' })]);
    expect(n.refused).toContainEqual(expect.objectContaining({ route: 'zz-copy', destination: '192.168.0.0/16', heldBy: 'aa-db' }));
    // A proposal that selects no node changes nothing: exit 0.
    const none = join(dir, 'none.yaml');
    writeFileSync(none, route('gpu', '{destinations: ["10.9.0.0/16"], gateways: ["10.114.0.7"], nodeSelector: {nodeSelectorTerms: [{matchExpressions: [{key: gpu, operator: Exists}]}]}}'));
    const q = await kroute(['plan', ...offline(`${POOL}=worker`, '-f', none)]);
    expect(q.code).toBe(0);
    expect(q.stdout).toContain('1 other node: not selected, nothing changes.');
  });

  it('explain route names, per term, the requirement that failed and the value the node has', async () => {
    const r = await krouteJson<RouteExplanation>(['explain', 'route', 'egress', ...offline(`${POOL}=worker`)]);
    expect(r.code).toBe(0);
    expect(r.value.nodes[0].misses).toEqual([
      { term: 0, field: 'nodeSelectorTerms[0].matchExpressions[0]', requirement: { key: POOL, operator: 'In', values: ['egress-pool'] }, nodeValue: 'worker', text: `${POOL} In [egress-pool] does not hold` },
      { term: 1, field: 'nodeSelectorTerms[1].matchFields[0]', requirement: { key: 'metadata.name', operator: 'In', values: ['special'] }, nodeValue: 'n1', text: 'metadata.name In [special] does not hold' },
    ]);
    const t = await kroute(['explain', 'route', 'egress', ...offline('zone=a')]);
    expect(t.stdout).toContain(`n1: nodeSelectorTerms[0].matchExpressions[0]: ${POOL} In [egress-pool] does not hold (label absent)`);
    expect(t.stdout).toContain('n1: nodeSelectorTerms[1].matchFields[0]: metadata.name In [special] does not hold (node has "n1")');
  });

  it('explain node lists every Route with its outcome; problems make exit 2', async () => {
    const r = await krouteJson<NodeExplanation>(['explain', 'node', 'n1', '--routes', routes, '--node-labels', `${POOL}=worker`]);
    expect(r.code).toBe(2);
    expect(r.value.routes.map((x) => [x.route, x.selected, x.planned?.state ?? '-', x.planned?.conflicts ?? []])).toEqual([
      ['bad', false, 'Invalid', []],
      ['egress', false, '-', []],
      ['vpn', true, 'Applied', []],
      ['zz-copy', true, 'Applied', [{ destination: '172.16.0.0/12', heldBy: 'vpn' }]],
    ]);
  });

  it.each([
    [['plan'], /NODE: .*plan needs a node/],
    [['plan', 'n1', '-o', 'yaml', '--routes', 'x'], /-o: "yaml" must be table or json/],
    [['deploy'], /unknown command "deploy"/],
    [['explain', 'pod', 'x'], /explain route NAME/],
    [['plan', 'n1', '--routes', '/nonexistent/routes'], /\/nonexistent\/routes: ENOENT/],
    [['plan', 'n1', '--gateways-down', '10.114.0.999'], /--gateways-down\[0\]: "10.114.0.999"/],
    [['plan', 'n1', '--probe-interval-seconds', 'abc'], /--probe-interval-seconds: "abc" must be a number/],
    [['explain', 'route', 'nope', '--routes', 'ROUTES', '--node-name', 'n1'], /no Route named "nope" \(there are: bad, egress, vpn, zz-copy\)/],
    [['plan', 'n1', '--routes', 'ROUTES', '--host', '{defaultV4: {gateway: 10.0.0.999, dev: eth0}, extra: 1}'], /host\.extra: is not a host field[\s\S]*host\.defaultV4\.gateway: "10\.0\.0\.999" is not an IPv4 or IPv6 address/],
  ])('a usage or input error names the field and value and exits 1: %j', async (args, message) => {
    const r = await kroute((args as string[]).map((a) => (a === 'ROUTES' ? routes : a)));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message as RegExp);
    expect(r.stdout).toBe('');
  });

  it('--help and version exit 0', async () => {
    const h = await kroute(['--help']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('kroute plan [NODE]');
    expect(h.stdout).toContain('get/list on routes and nodes');
    expect((await kroute(['version'])).stdout).toMatch(/^kroute \d+\.\d+\.\d+/);
  });

  it("docs/cli.md shows the ClusterRole kroute needs exactly as the core builds it (get and list only)", () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
    const block = /```yaml\n(apiVersion: rbac[\s\S]*?)```/.exec(doc)?.[1];
    const role = cliViewerClusterRole();
    expect(parse(block ?? '')).toEqual({ apiVersion: role.apiVersion, kind: role.kind, metadata: { name: role.metadata.name }, rules: role.rules });
    const verbs = (role.rules as { verbs: string[] }[]).flatMap((r) => r.verbs);
    expect([...new Set(verbs)].sort()).toEqual(['get', 'list']);
  });
});
