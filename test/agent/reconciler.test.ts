/**
 * The reconciler against a real kernel in a network namespace (needs root and iproute2), with the source, reporter,
 * control plane and gateway health as test doubles: the override's confirmation window and rollback, a confirmed
 * override surviving a later API outage, the finalizer protocol (held after programming, released after removal),
 * and a reporter that never answers (a frozen API server) holding up neither failover nor stop.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultAgentConfig, routeObject, type RouteNodeStatus, type RouteSpec } from '../../core/index.js';
import { DEFAULT_OWNERSHIP } from '../../core/plan/index.js';
import { HostDiscovery } from '../../agent/host.js';
import { IprouteKernel } from '../../agent/kernel/iproute.js';
import { SysctlWriter } from '../../agent/kernel/sysctl.js';
import { silentLogger } from '../../agent/log.js';
import type { AgentEvent, ControlPlane, Reporter, RouteSource, SourceSnapshot } from '../../agent/ports.js';
import { Reconciler } from '../../agent/reconciler.js';
import { useLab } from '../lab/jest.js';
import { until as waitUntil, type Check } from '../lab/wait.js';
import type { Netns } from '../net/netns.js';

const GW = ['10.114.0.10', '10.114.0.11'];

class TestSource implements RouteSource {
  synced = false;
  readonly connected = true;
  private onChange: (s: SourceSnapshot) => void = () => undefined;
  constructor(private snapshot: SourceSnapshot) {}
  async start(onChange: (s: SourceSnapshot) => void): Promise<void> {
    this.onChange = onChange;
    this.synced = true;
    onChange(this.snapshot);
  }
  set(s: SourceSnapshot): void {
    this.snapshot = s;
    this.onChange(s);
  }
  async stop(): Promise<void> {}
}

class TestReporter implements Reporter {
  readonly log: string[] = [];
  readonly statuses = new Map<string, RouteNodeStatus>();
  /** Every status and clear call, in order. */
  readonly calls: { op: 'status' | 'clear'; name: string; status: RouteNodeStatus }[] = [];
  readonly events: AgentEvent[] = [];
  async status(name: string, s: RouteNodeStatus): Promise<void> {
    this.statuses.set(name, s);
    this.calls.push({ op: 'status', name, status: s });
  }
  async clear(name: string, s: RouteNodeStatus): Promise<void> {
    this.statuses.delete(name);
    this.calls.push({ op: 'clear', name, status: s });
  }
  async event(e: AgentEvent): Promise<void> {
    this.events.push(e);
  }
  async hold(name: string): Promise<void> {
    this.log.push(`hold ${name}`);
  }
  async release(name: string): Promise<void> {
    this.log.push(`release ${name}`);
  }
}

/** The lab's until with this file's argument order and deadline (10 s, polling every 20 ms). */
const until = <T>(what: string, f: Check<T>, ms = 10_000): Promise<T> => waitUntil(what, ms, f, 20);

describe('reconciler (needs root, iproute2; in a network namespace)', () => {
  const lab = useLab({
    name: 'a node with eth0 (public, default route) and eth1 (VPC)',
    namespaces: {
      node: { addresses: { eth0: ['203.0.113.10/24'], eth1: ['10.114.0.2/20'] }, routes: ['default via 203.0.113.1 dev eth0'] },
      inet: {},
      vpc: {},
    },
    links: [['node:eth0', 'inet:eth0'], ['node:eth1', 'vpc:eth1']],
  });
  let node: Netns;
  let dir: string;

  beforeAll(async () => {
    node = lab.ns('node');
    dir = await mkdtemp(join(tmpdir(), 'kroute-reconciler-'));
    await writeFile(join(dir, 'resolv.conf'), 'nameserver 198.51.100.53\n');
    for (const d of ['net/ipv4', 'net/ipv6']) await mkdir(join(dir, 'sys', d), { recursive: true });
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function start(spec: RouteSpec, cp: { up: boolean }, opts: { reporter?: Reporter; down?: Set<string> } = {}) {
    const config = { ...defaultAgentConfig(), nodeName: 'n1', overrideConfirmSeconds: 1, controlPlaneAddresses: ['198.18.0.1'] };
    const snap = (s: RouteSpec, deleting = false): SourceSnapshot => ({
      routes: [{ name: 'egress', object: routeObject('egress', s), deleting }], node: { name: 'n1', labels: {} }, problems: [],
    });
    const source = new TestSource(snap(spec));
    const reporter = opts.reporter ?? new TestReporter();
    const controlPlane: ControlPlane = { addresses: async () => [], reachable: async () => cp.up };
    const down = opts.down ?? new Set<string>();
    const reconciler = new Reconciler({
      config, source, reporter, controlPlane, log: silentLogger,
      kernel: new IprouteKernel({ ownership: DEFAULT_OWNERSHIP, netns: node.name }),
      sysctls: new SysctlWriter(join(dir, 'sys')),
      host: new HostDiscovery({ ownership: DEFAULT_OWNERSHIP, publicInterface: 'eth0', resolvConf: join(dir, 'resolv.conf'), netns: node.name }),
      prober: { setTargets: () => undefined, down: () => new Set(down), snapshot: () => new Map(), start: () => undefined, stop: () => undefined },
    });
    return { reconciler, reporter: reporter as TestReporter, source, snap };
  }
  const viaFor = async (dst: string) => (await node.ip('route', 'get', dst)).split(' ').slice(1, 5).join(' ');
  const halves = async () => (await node.ip('route', 'show', 'proto', '145', 'exact', '0.0.0.0/1')).trim() !== '';

  it('rolls an override back when the API server does not answer within the window, and says why', async () => {
    const { reconciler, reporter } = start({ destinations: ['0.0.0.0/0'], gateways: GW }, { up: false });
    try {
      expect(await viaFor('8.8.8.8')).toBe('via 203.0.113.1 dev eth0');
      await reconciler.start();
      await until('the override', halves);
      // The finalizer is held after the kernel write, by the reporting loop (docs/finalizers.md).
      await until('the hold', () => reporter.log.includes('hold egress'));
      expect(await viaFor('8.8.8.8')).toMatch(/^via 10\.114\.0\.1[01] dev eth1$/);
      expect(await viaFor('198.51.100.53')).toBe('via 203.0.113.1 dev eth0');
      await until('the rollback', async () => !(await halves()));
      expect(await viaFor('8.8.8.8')).toBe('via 203.0.113.1 dev eth0');
      expect(reporter.events.map((e) => e.reason)).toContain('OverrideRolledBack');
      await until('the status', () => reporter.statuses.get('egress')?.reason === 'OverrideRolledBack');
    } finally {
      await reconciler.stop();
    }
  });

  it('keeps a confirmed override through a later API outage, and releases a deleted Route after removing its routes', async () => {
    const cp = { up: true };
    const spec = { destinations: ['0.0.0.0/0', '192.0.2.0/24'], gateways: GW };
    const { reconciler, reporter, source, snap } = start(spec, cp);
    try {
      await reconciler.start();
      await until('the confirmation', () => reporter.events.some((e) => e.reason === 'OverrideApplied'));
      cp.up = false;
      const passes = reconciler.passes;
      reconciler.trigger('test resync');
      await until('another pass', () => reconciler.passes > passes);
      expect(await halves()).toBe(true);
      source.set(snap(spec, true));
      await until('the release', () => reporter.log.includes('release egress'));
      expect(await halves()).toBe(false);
      expect((await node.ip('route', 'show', 'proto', '145', 'table', 'main')).trim()).toBe('');
      expect(await viaFor('8.8.8.8')).toBe('via 203.0.113.1 dev eth0');
    } finally {
      await reconciler.stop();
    }
  });

  it('reports a status once: an identical pass reports nothing new; a Route that stops selecting the node is cleared, not given a NotSelected entry', async () => {
    const { reconciler, reporter, source } = start({ destinations: ['192.0.2.0/24'], gateways: GW }, { up: true });
    const withSelector = (selected: boolean): SourceSnapshot => ({
      routes: [
        { name: 'egress', object: routeObject('egress', { destinations: ['192.0.2.0/24'], gateways: GW }), deleting: false },
        { name: 'pool', object: routeObject('pool', { destinations: ['198.51.100.0/24'], gateways: GW, nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['a'] }] }] } }), deleting: false },
      ],
      node: { name: 'n1', labels: selected ? { pool: 'a' } : {} },
      problems: [],
    });
    try {
      source.set(withSelector(true));
      await reconciler.start();
      await until('both Applied', () => reporter.calls.filter((c) => c.status.state === 'Applied').length === 2);
      const applied = reporter.statuses.get('egress');
      const passes = reconciler.passes;
      const validations = reconciler.validationsRun;
      reconciler.trigger('test resync');
      await until('another pass', () => reconciler.passes > passes);
      // Each Route is validated once per object (generation), not on every pass.
      expect(reconciler.validationsRun).toBe(validations);
      expect(reporter.calls.map((c) => `${c.op} ${c.name}`)).toEqual(['status egress', 'status pool']);
      source.set(withSelector(false));
      await until('the clear', () => reporter.calls.some((c) => c.op === 'clear'));
      const p2 = reconciler.passes;
      reconciler.trigger('test resync');
      await until('another pass', () => reconciler.passes > p2);
      expect(reporter.calls.map((c) => `${c.op} ${c.name} ${c.status.state}`)).toEqual(['status egress Applied', 'status pool Applied', 'clear pool NotSelected']);
      expect(reporter.statuses.get('egress')).toBe(applied);
      expect(applied?.lastTransitionTime).toEqual(expect.any(String));
    } finally {
      await reconciler.stop();
      await new IprouteKernel({ ownership: DEFAULT_OWNERSHIP, netns: node.name }).apply({ routes: [], rules: [] });
    }
  });

  it('a reporter that never answers (a frozen API server) holds up neither two successive failovers nor the stop', async () => {
    const hung: Reporter = {
      status: () => new Promise(() => undefined),
      clear: () => new Promise(() => undefined),
      event: () => new Promise(() => undefined),
      hold: () => new Promise(() => undefined),
      release: () => new Promise(() => undefined),
    };
    const three = [...GW, '10.114.0.12'];
    const down = new Set<string>();
    const { reconciler } = start({ destinations: ['192.0.2.0/24'], gateways: three }, { up: false }, { reporter: hung, down });
    const hops = async () => [...(await node.ip('route', 'show', 'proto', '145', 'exact', '192.0.2.0/24')).matchAll(/via (\S+)/g)].map((m) => m[1]).sort();
    try {
      await reconciler.start();
      await until('three next hops', async () => ((await hops()).length === 3 ? true : undefined));
      down.add(three[0]);
      reconciler.gatewaysChanged([{ gateway: three[0], up: false }]);
      await until('the first failover', async () => ((await hops()).join() === [three[1], three[2]].join() ? true : undefined), 2000);
      down.add(three[1]);
      reconciler.gatewaysChanged([{ gateway: three[1], up: false }]);
      await until('the second failover', async () => ((await hops()).join() === three[2] ? true : undefined), 2000);
      expect(reconciler.reportBacklog).toBeGreaterThan(0);
    } finally {
      const t = Date.now();
      await reconciler.stop();
      expect(Date.now() - t).toBeLessThan(1500);
      await new IprouteKernel({ ownership: DEFAULT_OWNERSHIP, netns: node.name }).apply({ routes: [], rules: [] });
    }
  });

  it('after a restart in the middle of an override, adopts it as it is: no confirmation window, no rollback, the same path', async () => {
    const spec = { destinations: ['0.0.0.0/0'], gateways: GW };
    const first = start(spec, { up: true });
    await first.reconciler.start();
    await until('the confirmation', () => first.reporter.events.some((e) => e.reason === 'OverrideApplied'));
    await first.reconciler.stop();
    const during = await viaFor('8.8.8.8');
    expect(during).toMatch(/^via 10\.114\.0\.1[01] dev eth1$/);
    // The API server is down when the agent comes back.
    const second = start(spec, { up: false });
    try {
      await second.reconciler.start();
      await until('the first pass', () => second.reconciler.applied);
      expect(second.reconciler.overrideWaiting).toBe(false);
      expect(await viaFor('8.8.8.8')).toBe(during);
      expect(second.reporter.events.map((e) => e.reason)).not.toContain('OverrideRolledBack');
    } finally {
      await second.reconciler.stop();
      await new IprouteKernel({ ownership: DEFAULT_OWNERSHIP, netns: node.name }).apply({ routes: [], rules: [] });
    }
    expect(await viaFor('8.8.8.8')).toBe('via 203.0.113.1 dev eth0');
  });
});
