/**
 * Probing is bounded (issue 12, case 6; 480 pings at once were seen): 100 gateways (loopback addresses in a network
 * namespace, so every one answers) are probed by one long-lived fping, counted from /proc as this process's children,
 * and every gateway answers each period. Changing the gateway set replaces that one process; the same set keeps it.
 * Needs root, iproute2 and fping.
 */
import { readdir, readFile } from 'node:fs/promises';
import { Prober } from '../../agent/prober.js';
import { silentLogger } from '../../agent/log.js';
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

describe('prober bounds (needs root, iproute2, fping; in a network namespace)', () => {
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
});
