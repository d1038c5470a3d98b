/**
 * The prober with real `fping` and `kroute-probe` in network namespaces (needs root, iproute2, fping and Go, which
 * builds kroute-probe into the test binary cache): a gateway whose link goes down leaves after `fall` lost probes and
 * comes back after `rise` answered ones; a gateway the node has no route to (every send refused, so fping prints
 * nothing about it) goes down all the same; a gateway that stops forwarding is caught by its forwarding probe, and a
 * forwarding prober that is missing or dies takes no gateway out.
 */
import { FORWARD_PROBE } from '../../core/plan/index.js';
import { Prober } from '../../agent/prober.js';
import { jsonLogger, silentLogger, type Logger } from '../../agent/log.js';
import { ensureKrouteProbe } from '../cluster/binaries.js';
import { useLab } from '../lab/jest.js';
import type { Netns } from '../net/netns.js';

/** The built kroute-probe (a cache hit after the tests' setup). */
let krouteProbe: string;
beforeAll(async () => {
  krouteProbe = await ensureKrouteProbe();
}, 300_000);

/** A logger keeping its lines, for what the prober says. */
function keptLogger(): { log: Logger; lines: { level: string; msg: string; error?: string }[] } {
  const lines: { level: string; msg: string; error?: string }[] = [];
  return { log: jsonLogger('debug', (l) => void lines.push(JSON.parse(l) as { level: string; msg: string })), lines };
}

/** A fast prober pinging from `node`, with the gateway changes it reports and a wait for the next one. */
function watchedProber(node: Netns, opts: { log?: Logger; forwardProber?: string } = {}) {
  const changes: { gateway: string; up: boolean }[] = [];
  let notify = () => undefined as void;
  const prober = new Prober({
    intervalMs: 100, timeoutMs: 200, fall: 2, rise: 1, log: opts.log ?? silentLogger,
    forwardProber: opts.forwardProber ?? krouteProbe,
    wrap: ['ip', 'netns', 'exec', node.name],
    onChange: (_down, changed) => {
      changes.push(...changed);
      notify();
    },
  });
  const next = (ms: number) => new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no gateway change within ${ms} ms; changes so far ${JSON.stringify(changes)}`)), ms);
    notify = () => {
      clearTimeout(t);
      resolve();
    };
  });
  return { prober, changes, next };
}

/** Waits for `check` to hold, polling, up to `ms`. */
async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('prober (needs root, iproute2, fping, and Go for kroute-probe; in network namespaces)', () => {
  const lab = useLab({
    name: 'a node, one gateway, and a target beyond it',
    namespaces: {
      node: {
        addresses: { eth1: ['10.114.0.2/20'] },
        // What the planner installs for a forwarding probe (FORWARD_PROBE): mark → table → target via the gateway.
        routes: [`198.18.0.2/32 via 10.114.0.10 table ${FORWARD_PROBE.tableBase} proto 145`],
        rules: [`priority ${FORWARD_PROBE.rulePriority} fwmark ${FORWARD_PROBE.markBase} table ${FORWARD_PROBE.tableBase} protocol 145`],
      },
      gw: { addresses: { eth1: ['10.114.0.10/20'], eth2: ['198.18.0.1/24'] }, sysctls: { 'net.ipv4.ip_forward': '1' } },
      // Beyond the gateway: the forwarding probe's target, reachable from the node only through the gateway.
      far: { addresses: { eth0: ['198.18.0.2/24'] }, routes: ['10.114.0.0/20 via 198.18.0.1'] },
    },
    links: [['node:eth1', 'gw:eth1'], ['gw:eth2', 'far:eth0']],
  });
  let node: Netns;
  let gw: Netns;

  beforeAll(() => {
    node = lab.ns('node');
    gw = lab.ns('gw');
  });

  it('takes a gateway out when its link goes down and puts it back when it answers again', async () => {
    const { prober, changes, next } = watchedProber(node);
    prober.setTargets(['10.114.0.10', '10.114.0.99']);
    try {
      // 10.114.0.99 does not exist: it goes down; 10.114.0.10 answers and stays up.
      const first = next(5000);
      prober.start();
      await first;
      expect(changes).toEqual([{ gateway: '10.114.0.99', up: false }]);
      prober.setTargets(['10.114.0.10']);
      const down = next(5000);
      const t0 = Date.now();
      await gw.ip('link', 'set', 'eth1', 'down');
      await down;
      const downMs = Date.now() - t0;
      expect(changes.at(-1)).toEqual({ gateway: '10.114.0.10', up: false });
      expect([...prober.down()]).toEqual(['10.114.0.10']);
      const up = next(5000);
      await gw.ip('link', 'set', 'eth1', 'up');
      await up;
      expect(changes.at(-1)).toEqual({ gateway: '10.114.0.10', up: true });
      expect([...prober.down()]).toEqual([]);
      process.stdout.write(`prober.test: gateway detected down ${downMs} ms after its link went down (interval 100 ms, fall 2)\n`);
    } finally {
      prober.stop();
    }
  });

  it('takes out a gateway that answers pings but stopped forwarding, and puts it back when it forwards again', async () => {
    const { prober, changes, next } = watchedProber(node);
    prober.setTargets([{ gateway: '10.114.0.10', forward: { target: '198.18.0.2', mark: FORWARD_PROBE.markBase } }]);
    try {
      prober.start();
      // Several answered probes of both kinds first: the gateway forwards, so it stays up.
      await until('three answered probes of 10.114.0.10 and through it', () => (prober.snapshot().get('10.114.0.10')?.oks ?? 0) >= 3, 5000);
      expect(changes).toEqual([]);
      // One fping for the gateway, one kroute-probe for the forwarding probe through it.
      expect(prober.processes()).toHaveLength(2);
      const down = next(5000);
      await gw.sysctl('net.ipv4.ip_forward', '0');
      await down;
      expect(changes).toEqual([{ gateway: '10.114.0.10', up: false }]);
      expect(prober.snapshot().get('10.114.0.10')?.lastError).toMatch(/not forwarding/);
      const up = next(5000);
      await gw.sysctl('net.ipv4.ip_forward', '1');
      await up;
      expect(changes.at(-1)).toEqual({ gateway: '10.114.0.10', up: true });
    } finally {
      prober.stop();
    }
  });

  it('a forwarding prober that is missing, or dies, takes no gateway out: gateways are judged by their own replies, and the agent says so', async () => {
    const target = { gateway: '10.114.0.10', forward: { target: '198.18.0.2', mark: FORWARD_PROBE.markBase } };
    // Missing: the gateway answers its own probes and stays up, however many periods pass.
    const missing = keptLogger();
    const a = watchedProber(node, { log: missing.log, forwardProber: '/nonexistent/kroute-probe' });
    a.prober.setTargets([target]);
    try {
      a.prober.start();
      await until('ten answered direct probes', () => (a.prober.snapshot().get('10.114.0.10')?.oks ?? 0) >= 10, 10_000);
      expect(a.changes).toEqual([]);
      expect([...a.prober.down()]).toEqual([]);
      const warned = missing.lines.filter((l) => /forwarding prober is not running/.test(l.msg));
      // Once per outage, however often the restart fails; the error names the missing program.
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ level: 'warn', error: expect.stringMatching(/nonexistent\/kroute-probe/) });
    } finally {
      a.prober.stop();
    }

    // Dies: a gateway out because it stopped forwarding comes back when kroute-probe is killed (its own replies
    // judge it), and goes out again once the restarted kroute-probe sees it still not forwarding.
    const dies = keptLogger();
    const b = watchedProber(node, { log: dies.log });
    b.prober.setTargets([target]);
    try {
      b.prober.start();
      await until('three answered probes of 10.114.0.10 and through it', () => (b.prober.snapshot().get('10.114.0.10')?.oks ?? 0) >= 3, 5000);
      let change = b.next(5000);
      await gw.sysctl('net.ipv4.ip_forward', '0');
      await change;
      expect(b.changes).toEqual([{ gateway: '10.114.0.10', up: false }]);
      const [, probePid] = b.prober.processes();
      change = b.next(5000);
      process.kill(probePid, 'SIGKILL');
      await change;
      expect(b.changes.at(-1)).toEqual({ gateway: '10.114.0.10', up: true });
      expect(dies.lines.filter((l) => /forwarding prober is not running/.test(l.msg))).toHaveLength(1);
      // Restarted after one period; it hears, and the gateway still does not forward.
      change = b.next(5000);
      await change;
      expect(b.changes.at(-1)).toEqual({ gateway: '10.114.0.10', up: false });
      expect(dies.lines.some((l) => /forwarding prober runs again/.test(l.msg))).toBe(true);
      expect(b.prober.processes()).toHaveLength(2);
      expect(b.prober.processes()[1]).not.toBe(probePid);
    } finally {
      b.prober.stop();
      await gw.sysctl('net.ipv4.ip_forward', '1');
    }
  });

  it('takes out a gateway the node has no route to (fping prints nothing for a refused send) and keeps the others', async () => {
    const { prober, changes, next } = watchedProber(node);
    // 192.0.2.1 is on no network of the node: every sendto fails with ENETUNREACH and fping stays silent about it.
    prober.setTargets(['10.114.0.10', '192.0.2.1']);
    try {
      const down = next(5000);
      prober.start();
      await down;
      expect(changes).toEqual([{ gateway: '192.0.2.1', up: false }]);
      expect(prober.snapshot().get('192.0.2.1')).toMatchObject({ up: false, lastError: expect.stringMatching(/no ICMP reply/) });
      await until('three answered probes of 10.114.0.10', () => (prober.snapshot().get('10.114.0.10')?.oks ?? 0) >= 3, 5000);
      expect([...prober.down()]).toEqual(['192.0.2.1']);
      // The node gains a route to it (the gateway answers there): fping's sends succeed again, after a gap in its
      // sequence numbers, and the gateway comes back without the process being restarted.
      const [pid] = prober.processes();
      const up = next(5000);
      await gw.ip('addr', 'add', '192.0.2.1/24', 'dev', 'eth1');
      await node.ip('addr', 'add', '192.0.2.2/24', 'dev', 'eth1');
      await up;
      expect(changes.at(-1)).toEqual({ gateway: '192.0.2.1', up: true });
      expect(prober.processes()[0]).toBe(pid);
    } finally {
      prober.stop();
      await node.ip('addr', 'del', '192.0.2.2/24', 'dev', 'eth1').catch(() => undefined);
      await gw.ip('addr', 'del', '192.0.2.1/24', 'dev', 'eth1').catch(() => undefined);
    }
  });
});
