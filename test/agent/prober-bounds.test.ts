/**
 * Probing is bounded (issue 12, case 6; 480 pings at once were seen): real `ping` processes in a network namespace,
 * 100 gateways (loopback addresses there, so every one answers), never more than PROBES_IN_FLIGHT at once, each
 * gateway once per round. Needs root, iproute2 and ping.
 */
import { PROBES_IN_FLIGHT, Prober, pingProbe, type ProbeFn } from '../../agent/prober.js';
import { silentLogger } from '../../agent/log.js';
import { NetnsLab, type Netns } from '../net/netns.js';

describe('prober bounds (needs root, iproute2, ping; in a network namespace)', () => {
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

  it(`runs at most ${PROBES_IN_FLIGHT} ping processes at once over 100 gateways, each once per round`, async () => {
    const real = pingProbe(['ip', 'netns', 'exec', ns.name]);
    let inFlight = 0;
    let peak = 0;
    const seen: string[] = [];
    const counting: ProbeFn = async (t, ms) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      try {
        const r = await real(t, ms);
        if (r.ok) seen.push(t.gateway);
        return r;
      } finally {
        inFlight--;
      }
    };
    const prober = new Prober({ intervalMs: 60_000, timeoutMs: 1000, fall: 1, rise: 1, log: silentLogger, probe: counting, onChange: () => undefined });
    const gateways = Array.from({ length: 100 }, (_, i) => `127.0.1.${i + 1}`);
    prober.setTargets(gateways);
    await prober.round();
    expect(peak).toBe(PROBES_IN_FLIGHT);
    expect([...seen].sort()).toEqual([...gateways].sort());
    expect(prober.down()).toEqual(new Set());
  }, 60_000);
});
