/**
 * The iproute2 kernel port in a network namespace (needs root and iproute2): one batch for a thousand routes,
 * adoption by a fresh adapter with nothing written, orphans pruned, routes of other protocols never touched, and
 * gateway changes without a window where the route is missing; one long-lived writer and no kernel read while its
 * view is current; a non-default ownership value (protocol, tables, marks, priorities) is what it writes and reads
 * as its own; an agent killed in the middle of a big write leaves only whole routes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { routeObject } from '../../core/index.js';
import { DEFAULT_OWNERSHIP, plan, type DesiredRoute, type DesiredRule, type HostFacts, type Ownership } from '../../core/plan/index.js';
import { IprouteKernel } from '../../agent/kernel/iproute.js';
import { useLab } from '../lab/jest.js';
import { until } from '../lab/wait.js';
import type { Netns } from '../net/netns.js';
import { REPO_ROOT } from './agent-process.js';

const PROTO = DEFAULT_OWNERSHIP.protocol;
const GW = ['10.114.0.10', '10.114.0.11', '10.114.0.12'];

function route(dst: string, gateways: readonly string[]): DesiredRoute {
  return { family: dst.includes(':') ? 6 : 4, dst, table: 254, protocol: PROTO, nexthops: gateways.map((gateway) => ({ gateway })), purpose: 'route', routeName: 'r' };
}

/** `ip monitor route rule` in the namespace, collecting lines. */
class Monitor {
  readonly lines: string[] = [];
  private readonly child: ChildProcess;
  constructor(ns: Netns) {
    this.child = ns.spawn('ip', ['-N', 'monitor', 'route', 'rule']);
    if (!this.child.stdout) throw new Error('no stdout');
    createInterface({ input: this.child.stdout }).on('line', (l) => this.lines.push(l));
  }
  /** Waits until a line matches, with a deadline. */
  async waitFor(re: RegExp, ms = 5000): Promise<number> {
    return until(`a monitor line matching ${re}`, ms, () => {
      const i = this.lines.findIndex((l) => re.test(l));
      if (i < 0) throw new Error(`saw:\n${this.lines.join('\n')}`);
      return i;
    }, 1);
  }
  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('close', () => resolve());
      this.child.kill();
    });
  }
}

/**
 * A marker route of another protocol: once the monitor shows it, every earlier event has been seen. A monitor just
 * spawned may not listen yet, so the marker is added again (a new one) until it shows.
 */
let markers = 0;
async function barrier(ns: Netns, mon: Monitor): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    const dst = `192.0.2.${++markers}`;
    await ns.ip('route', 'add', dst, 'via', GW[0], 'proto', '99');
    let i: number;
    try {
      i = await mon.waitFor(new RegExp(`^${dst.replace(/\./g, '\\.')} .*proto 99`), attempt < 4 ? 1000 : 5000);
    } catch (e) {
      await ns.ip('route', 'del', dst, 'proto', '99');
      if (attempt < 4) continue;
      throw e;
    }
    const before = mon.lines.splice(0, i + 1).slice(0, i).filter((l) => !/ proto 99\b/.test(l));
    await ns.ip('route', 'del', dst, 'proto', '99');
    await mon.waitFor(new RegExp(`^Deleted ${dst.replace(/\./g, '\\.')} `));
    mon.lines.splice(0);
    return before;
  }
}

describe('iproute2 kernel port (needs root, iproute2; in a network namespace)', () => {
  const lab = useLab({
    name: 'a node with one VPC link',
    namespaces: { node: { addresses: { eth1: ['10.114.0.2/20', '2001:db8:1::2/64'] } }, vpc: {} },
    links: [['node:eth1', 'vpc:eth1']],
  });
  let node: Netns;
  let kernel: IprouteKernel;

  beforeAll(() => {
    node = lab.ns('node');
    kernel = new IprouteKernel({ ownership: DEFAULT_OWNERSHIP, netns: node.name });
  });
  afterAll(async () => {
    await kernel?.close();
  });

  const thousand = Array.from({ length: 1000 }, (_, i) => route(`172.16.${i >> 4}.${(i & 15) * 16}/28`, i % 2 ? [GW[0], GW[1]] : [GW[2]]));

  it('applies 1,000 routes with one ip -batch process, and a second adapter adopts them without a single write', async () => {
    const started = Date.now();
    const first = await kernel.apply({ routes: thousand, rules: [] });
    const ms = Date.now() - started;
    expect({ writes: first.writes, errors: first.results.filter((r) => r.error), count: first.results.length }).toEqual({ writes: 1, errors: [], count: 1000 });
    const owned = (await kernel.read()).owned;
    expect(owned.length).toBe(1000);
    expect(owned.find((r) => r.dst === '172.16.0.16/28')?.nexthops.map((h) => h.gateway)).toEqual([GW[0], GW[1]]);
    process.stdout.write(`kernel.test: 1,000 routes applied in ${ms} ms (read, diff, one batch)\n`);

    const mon = new Monitor(node);
    try {
      await barrier(node, mon);
      const restarted = new IprouteKernel({ ownership: DEFAULT_OWNERSHIP, netns: node.name });
      const again = await restarted.apply({ routes: thousand, rules: [] });
      expect({ writes: again.writes, results: again.results.length, unchanged: again.unchanged }).toEqual({ writes: 0, results: 0, unchanged: 1000 });
      expect(await barrier(node, mon)).toEqual([]);
    } finally {
      await mon.stop();
    }
  });

  it('prunes orphaned owned routes and never touches routes of another protocol', async () => {
    await node.ip('route', 'add', '198.51.100.0/24', 'via', GW[0], 'proto', String(PROTO));
    await node.ip('route', 'add', '203.0.113.0/24', 'via', GW[0], 'proto', 'static');
    await node.ip('route', 'add', '100.64.0.0/16', 'via', GW[1]);
    // Hand edits behind the adapter's back: in the agent the route monitor tells it (invalidate), here the test does.
    kernel.invalidate();
    const want = [route('172.16.0.0/28', [GW[2]]), route('100.64.0.0/16', [GW[0]])];
    const r = await kernel.apply({ routes: want, rules: [] });
    expect(r.results.filter((x) => x.error)).toEqual([]);
    // The foreign 100.64.0.0/16 is left alone and reported, not replaced.
    expect(r.conflicts.map((c) => [c.route.dst, c.foreign.protocol])).toEqual([['100.64.0.0/16', 3]]);
    const state = await kernel.read();
    expect(state.owned.map((x) => x.dst)).toEqual(['172.16.0.0/28']);
    const foreign = state.foreign.filter((x) => ['203.0.113.0/24', '100.64.0.0/16'].includes(x.dst)).map((x) => [x.dst, x.nexthops[0].gateway]);
    expect(foreign.sort()).toEqual([['100.64.0.0/16', GW[1]], ['203.0.113.0/24', GW[0]]]);
    const pruned = await kernel.apply({ routes: [], rules: [] });
    expect(pruned.results.map((x) => x.op.kind)).toEqual(['delete-route']);
    // Its own deletion, as ip monitor prints it, is its own (once): the agent reads nothing again for it.
    const line = `Deleted 172.16.0.0/28 via ${GW[2]} dev eth1 proto ${PROTO} `;
    expect([kernel.ownChange(line), kernel.ownChange(line), kernel.ownChange(`Deleted 198.51.100.0/24 via ${GW[0]} dev eth1 proto ${PROTO} `)]).toEqual([true, false, false]);
    expect((await kernel.read()).owned).toEqual([]);
  });

  it('changes a route\'s gateways with one replace: the route is never deleted on the way', async () => {
    await kernel.apply({ routes: [route('192.0.2.0/24', [GW[0], GW[1]])], rules: [] });
    const mon = new Monitor(node);
    try {
      await barrier(node, mon);
      const r = await kernel.apply({ routes: [route('192.0.2.0/24', [GW[1], GW[2]])], rules: [] });
      expect(r.results.map((x) => [x.op.kind, x.error])).toEqual([['replace-route', undefined]]);
      const seen = await barrier(node, mon);
      expect(seen.filter((l) => l.startsWith('Deleted'))).toEqual([]);
      expect(seen.some((l) => l.startsWith('192.0.2.0/24'))).toBe(true);
      const owned = (await kernel.read()).owned;
      expect(owned.find((x) => x.dst === '192.0.2.0/24')?.nexthops.map((h) => h.gateway)).toEqual([GW[1], GW[2]]);
    } finally {
      await mon.stop();
    }
  });

  it('applies IPv4 and IPv6 rules and IPv6 multipath routes idempotently; one bad route does not block the rest', async () => {
    const rules: DesiredRule[] = [
      { family: 4, priority: 15135, src: '10.114.0.2/32', table: 135, protocol: PROTO },
      { family: 6, priority: 15135, src: '2001:db8:1::2/128', table: 135, protocol: PROTO },
    ];
    const routes = [route('2001:db8:2::/48', ['2001:db8:1::10', '2001:db8:1::11']), route('198.18.0.0/15', ['10.99.0.1']), route('192.0.2.0/24', [GW[0]])];
    const r = await kernel.apply({ routes, rules });
    expect(r.results.filter((x) => x.error).map((x) => (x.op.kind === 'replace-route' ? x.op.route.dst : x.op.kind))).toEqual(['198.18.0.0/15']);
    expect(r.writes).toBe(2);
    const again = await kernel.apply({ routes, rules });
    expect(again.results.map((x) => (x.op.kind === 'replace-route' ? x.op.route.dst : x.op.kind))).toEqual(['198.18.0.0/15']);
    expect((await kernel.read()).ownedRules.map((x) => `${x.priority} ${x.src} ${x.table}`).sort()).toEqual(['15135 10.114.0.2/32 135', '15135 2001:db8:1::2/128 135']);
    // Read again (a resync): the rules already there are adopted, not added a second time.
    kernel.invalidate();
    expect((await kernel.apply({ routes: [], rules })).results.filter((x) => x.op.kind === 'add-rule')).toEqual([]);
    expect((await kernel.read()).ownedRules).toHaveLength(2);
    const gone = await kernel.apply({ routes: [], rules: [] });
    expect(gone.results.filter((x) => x.error)).toEqual([]);
    expect(await kernel.read()).toMatchObject({ owned: [], ownedRules: [] });
  });

  it('writes every apply through one long-lived ip coprocess, and reads the kernel only when its view was dropped', async () => {
    const k = new IprouteKernel({ ownership: DEFAULT_OWNERSHIP, netns: node.name });
    try {
      const a = await k.apply({ routes: [route('192.0.2.0/24', [GW[0]])], rules: [] });
      expect(a.results.map((x) => x.error)).toEqual([undefined]);
      for (const gw of [GW[1], GW[2], GW[0]]) await k.apply({ routes: [route('192.0.2.0/24', [gw])], rules: [] });
      expect({ reads: k.reads, writerStarts: k.writerStarts }).toEqual({ reads: 1, writerStarts: 1 });
      expect((await node.ip('route', 'show', 'proto', String(PROTO), 'exact', '192.0.2.0/24')).trim()).toMatch(new RegExp(`via ${GW[0].replace(/\./g, '\\.')} `));
      // Someone deletes it (the monitor would say so): after invalidate() the adapter reads and puts it back.
      await node.ip('route', 'del', '192.0.2.0/24', 'proto', String(PROTO));
      k.invalidate();
      const back = await k.apply({ routes: [route('192.0.2.0/24', [GW[0]])], rules: [] });
      expect({ reads: k.reads, ops: back.results.map((x) => x.op.kind) }).toEqual({ reads: 2, ops: ['replace-route'] });
    } finally {
      await k.apply({ routes: [], rules: [] });
      await k.close();
    }
  });

  it('plans and writes with the ownership value it is given: its protocol, tables, marks and priorities; 145 is foreign to it', async () => {
    const own: Ownership = { protocol: 201, symmetric: { table: 177, rulePriority: 15177 }, forwardProbe: { tableBase: 14600, markBase: 0x10000, rulePriority: 15100 } };
    const host: HostFacts = {
      publicInterface: { name: 'eth1', addresses: ['10.114.0.2'], gatewayV4: '10.114.0.1' },
      connected: ['10.114.0.0/20'], dnsServers: [], controlPlaneAddresses: [], keepAddresses: [],
    };
    const p = plan({
      routes: [{ name: 'r', object: routeObject('r', { destinations: ['192.0.2.0/24'], gateways: [GW[0]] }), deleting: false }],
      node: { name: 'node', labels: {} }, host, gatewaysDown: new Set(),
      config: { ownership: own, symmetricRouting: true, overrideFailMode: 'closed', forwardProbeTarget: '198.18.0.2' },
    });
    // Another agent's route (the default protocol) in a slot this one does not plan: not its own, never touched.
    await node.ip('route', 'add', '198.51.100.0/24', 'via', GW[1], 'proto', String(PROTO));
    const k = new IprouteKernel({ ownership: own, netns: node.name });
    try {
      const r = await k.apply({ routes: p.routes, rules: p.rules });
      expect(r.results.filter((x) => x.error)).toEqual([]);
      const show = async (...args: string[]) => (await node.ip(...args)).trim().split('\n').filter(Boolean);
      expect(await show('route', 'show', 'table', 'main', 'proto', '201')).toEqual([`192.0.2.0/24 via ${GW[0]} dev eth1`]);
      expect(await show('route', 'show', 'table', '177', 'proto', '201')).toEqual(['default via 10.114.0.1 dev eth1']);
      expect(await show('route', 'show', 'table', '14600', 'proto', '201')).toEqual([`198.18.0.2 via ${GW[0]} dev eth1`]);
      const rules = (await show('rule', 'show')).filter((l) => / proto 201\b/.test(l)).map((l) => l.replace(/\s+/g, ' '));
      expect(rules.sort()).toEqual(['15100: from all fwmark 0x10000 lookup 14600 proto 201', '15177: from 10.114.0.2 lookup 177 proto 201']);
      // What it reads as its own is exactly what carries its protocol; the 145 route is someone else's.
      k.invalidate();
      const state = await k.read();
      expect(state.owned.map((x) => `${x.table} ${x.dst}`).sort()).toEqual(['14600 198.18.0.2/32', '177 0.0.0.0/0', '254 192.0.2.0/24']);
      expect(state.ownedRules.map((x) => x.priority).sort()).toEqual([15100, 15177]);
      expect(state.foreign.find((x) => x.dst === '198.51.100.0/24')?.protocol).toBe(PROTO);
      const gone = await k.apply({ routes: [], rules: [] });
      expect(gone.results.filter((x) => x.error)).toEqual([]);
      expect(await show('route', 'show', 'table', 'all', 'proto', '201')).toEqual([]);
      expect(await show('route', 'show', 'proto', String(PROTO), 'exact', '198.51.100.0/24')).toHaveLength(1);
    } finally {
      await k.close();
      await node.ip('route', 'del', '198.51.100.0/24', 'proto', String(PROTO));
    }
  });

  it('an agent killed (SIGKILL) in the middle of writing 20,000 multipath routes leaves only whole routes', async () => {
    const writer = join(REPO_ROOT, 'lib', 'agent', 'kernel', 'writer.js');
    if (!existsSync(writer)) throw new Error(`${writer} is missing: run npm run build first`);
    // A child process writes the batch and says when it has started; it is killed while the kernel takes the lines.
    const script = `
      import { IpBatchWriter } from ${JSON.stringify(writer)};
      const w = new IpBatchWriter({ globalArgs: ['-n', ${JSON.stringify(node.name)}] });
      const gws = ${JSON.stringify(GW)};
      const lines = Array.from({ length: 20000 }, (_, i) => 'route replace 10.' + (128 + (i >> 8)) + '.' + (i & 255) + '.0/24 proto ${PROTO} ' + gws.map((g) => 'nexthop via ' + g).join(' '));
      const done = w.write(lines);
      setTimeout(() => process.stdout.write('writing ' + w.pid + '\\n'), 5);
      await done;
      process.stdout.write('done\\n');`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const said = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const first = await new Promise<string>((resolve) => said.once('line', resolve));
    const pid = /^writing (\d+)$/.exec(first)?.[1];
    expect(pid).toBeDefined();
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // The coprocess reads what it was sent up to end of input, then exits: wait for that.
    await until(`the ip coprocess ${pid} to exit after its writer was killed`, 20_000, () => {
      if (existsSync(`/proc/${pid}`)) throw new Error('still running');
      return true;
    });
    const list = await node.ipJson<{ dst: string; nexthops?: { gateway: string }[]; gateway?: string }[]>('-4', 'route', 'show', 'proto', String(PROTO));
    const written = list.filter((r) => r.dst.startsWith('10.'));
    process.stdout.write(`kernel.test: killed after ${written.length} of 20,000 routes\n`);
    expect(written.length).toBeGreaterThan(0);
    expect(written.length).toBeLessThan(20_000);
    // Every route that made it has its three next hops: none was cut short in the middle of its line.
    expect(written.filter((r) => (r.nexthops ?? []).length !== 3)).toEqual([]);
    kernel.invalidate();
    await kernel.apply({ routes: [], rules: [] });
  }, 60_000);
});
