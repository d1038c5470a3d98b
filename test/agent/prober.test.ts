/**
 * The prober with real `ping` in network namespaces (needs root, iproute2 and iputils-ping): a gateway whose link goes
 * down leaves after `fall` failed rounds and comes back after `rise` answered ones.
 */
import { FORWARD_PROBE } from '../../core/plan/index.js';
import { Prober, pingProbe } from '../../agent/prober.js';
import { silentLogger } from '../../agent/log.js';
import { NetnsLab, type Netns } from '../net/netns.js';

/** A fast prober pinging from `node`, with the gateway changes it reports and a wait for the next one. */
function watchedProber(node: Netns) {
  const changes: { gateway: string; up: boolean }[] = [];
  let notify = () => undefined as void;
  const prober = new Prober({
    intervalMs: 100, timeoutMs: 200, fall: 2, rise: 1, log: silentLogger,
    probe: pingProbe(['ip', 'netns', 'exec', node.name]),
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

describe('prober (needs root, iproute2, ping; in network namespaces)', () => {
  let lab: NetnsLab;
  let node: Netns;
  let gw: Netns;

  beforeAll(async () => {
    lab = new NetnsLab();
    node = await lab.add('node');
    gw = await lab.add('gw');
    const far = await lab.add('far');
    await lab.link(node, 'eth1', gw, 'eth1');
    await node.ip('addr', 'add', '10.114.0.2/20', 'dev', 'eth1');
    await gw.ip('addr', 'add', '10.114.0.10/20', 'dev', 'eth1');
    // Beyond the gateway: the forwarding probe's target, reachable from the node only through the gateway.
    await lab.link(gw, 'eth2', far, 'eth0');
    await gw.ip('addr', 'add', '198.18.0.1/24', 'dev', 'eth2');
    await far.ip('addr', 'add', '198.18.0.2/24', 'dev', 'eth0');
    await far.ip('route', 'add', '10.114.0.0/20', 'via', '198.18.0.1');
    await gw.sysctl('net.ipv4.ip_forward', '1');
    // What the planner installs for a forwarding probe (FORWARD_PROBE): mark → table → target via the gateway.
    await node.ip('route', 'add', '198.18.0.2/32', 'via', '10.114.0.10', 'table', String(FORWARD_PROBE.tableBase), 'proto', '145');
    await node.ip('rule', 'add', 'priority', String(FORWARD_PROBE.rulePriority), 'fwmark', String(FORWARD_PROBE.markBase), 'table', String(FORWARD_PROBE.tableBase), 'protocol', '145');
  });
  afterAll(async () => {
    await lab?.cleanup();
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
      // Several answered rounds first: the gateway forwards, so it stays up.
      await prober.round();
      await prober.round();
      expect(changes).toEqual([]);
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
});
