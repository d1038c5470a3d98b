/**
 * Probing is bounded (issue 12, case 6; 480 pings at once were seen): 100 gateways (loopback addresses in a network
 * namespace, so every one answers) are probed by one long-lived fping, counted from /proc as this process's children,
 * and every gateway answers each period. Changing the gateway set replaces that one process; the same set keeps it.
 * With a forwarding probe for each of 64 gateways (the most a node probes), one kroute-probe sends them all, each
 * with its own mark. Needs root, iproute2, fping and Go (kroute-probe, built into the test binary cache).
 */
import { readdir, readFile } from 'node:fs/promises';
import { FORWARD_PROBE } from '../../core/plan/index.js';
import { AGENT_OPTIONS } from '../../core/options.js';
import { Prober } from '../../agent/prober.js';
import { silentLogger } from '../../agent/log.js';
import { ensureKrouteProbe } from '../cluster/binaries.js';
import { NetnsLab, type Netns } from '../net/netns.js';

/** This process's children now running, by program name (from /proc/PID/stat: comm and ppid). */
async function children(): Promise<{ pid: number; comm: string }[]> {
  const out: { pid: number; comm: string }[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const stat = await readFile(`/proc/${d}/stat`, 'utf8').catch(() => '');
    const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
    if (m && Number(m[2]) === process.pid) out.push({ pid: Number(d), comm: m[1] });
  }
  return out;
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('prober bounds (needs root, iproute2, fping, and Go for kroute-probe; in a network namespace)', () => {
  let lab: NetnsLab;
  let ns: Netns;

  beforeAll(async () => {
    lab = new NetnsLab();
    ns = await lab.add('probe');
    await ns.ip('link', 'set', 'lo', 'up');
  });
  afterAll(async () => {
    await lab?.cleanup();
  });

  it('probes 100 gateways with one fping process, every gateway answering each period', async () => {
    const prober = new Prober({ intervalMs: 200, timeoutMs: 150, fall: 1, rise: 1, log: silentLogger, wrap: ['ip', 'netns', 'exec', ns.name], onChange: () => undefined });
    const gateways = Array.from({ length: 100 }, (_, i) => `127.0.1.${i + 1}`);
    prober.setTargets(gateways);
    try {
      prober.start();
      const answered = () => [...prober.snapshot()].filter(([, h]) => h.oks >= 3).map(([g]) => g).sort();
      await until('every gateway answered three probes', () => answered().length === 100, 10_000);
      expect(answered()).toEqual([...gateways].sort());
      expect(prober.down()).toEqual(new Set());
      const kids = await children();
      expect(kids.map((k) => k.comm)).toEqual(['fping']);
      expect(prober.processes()).toEqual(kids.map((k) => k.pid));

      // The same set again (every reconcile pass sets it): the same process keeps running.
      const [pid] = prober.processes();
      prober.setTargets([...gateways].reverse());
      expect(prober.processes()).toEqual([pid]);
      // A different set: one new process replaces it, and the new gateway is probed.
      prober.setTargets([...gateways, '127.0.2.1']);
      await until('the old fping gone', async () => !(await children()).some((k) => k.pid === pid), 5000);
      expect((await children()).map((k) => k.comm)).toEqual(['fping']);
      await until('127.0.2.1 answered', () => (prober.snapshot().get('127.0.2.1')?.oks ?? 0) >= 1, 5000);
    } finally {
      prober.stop();
    }
    await until('no probe process left', async () => (await children()).length === 0, 5000);
  }, 60_000);

  it(`probes ${AGENT_OPTIONS.probeMaxGateways.default} gateways and a forwarding probe through each with one fping and one kroute-probe`, async () => {
    const n = AGENT_OPTIONS.probeMaxGateways.default;
    const prober = new Prober({
      intervalMs: 300, timeoutMs: 200, fall: 1, rise: 1, log: silentLogger, wrap: ['ip', 'netns', 'exec', ns.name],
      forwardProber: await ensureKrouteProbe(), onChange: () => undefined,
    });
    // Each marked echo goes to loopback here (no rule for the marks): what is counted is processes and answers.
    const targets = Array.from({ length: n }, (_, i) => ({ gateway: `127.0.3.${i + 1}`, forward: { target: `127.0.4.${i + 1}`, mark: FORWARD_PROBE.markBase + i } }));
    prober.setTargets(targets);
    try {
      prober.start();
      // oks counts both kinds: a gateway's answered direct probes and answered forwarding probes, the lower of the two.
      const answered = () => [...prober.snapshot()].filter(([, h]) => h.oks >= 3).length;
      await until(`all ${n} gateways answered three probes of each kind`, () => answered() === n, 15_000);
      expect(prober.down()).toEqual(new Set());
      const kids = await children();
      expect(kids.map((k) => k.comm).sort()).toEqual(['fping', 'kroute-probe']);
      expect([...prober.processes()].sort()).toEqual(kids.map((k) => k.pid).sort());
      // The same set again keeps both processes; one forwarding probe fewer replaces only kroute-probe.
      const before = prober.processes();
      prober.setTargets([...targets].reverse());
      expect(prober.processes()).toEqual(before);
      prober.setTargets([...targets.slice(0, -1), { gateway: targets[n - 1].gateway }]);
      const [fping, probe] = before;
      await until('the old kroute-probe gone', async () => !(await children()).some((k) => k.pid === probe), 5000);
      expect(prober.processes()[0]).toBe(fping);
      expect((await children()).map((k) => k.comm).sort()).toEqual(['fping', 'kroute-probe']);
    } finally {
      prober.stop();
    }
    await until('no probe process left', async () => (await children()).length === 0, 5000);
  }, 60_000);
});
