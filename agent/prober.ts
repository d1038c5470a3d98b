/**
 * Gateway liveness, as DOKS does it: an ICMP echo to every gateway of every applied route each interval. Pinging also
 * keeps the gateway's neighbour entry fresh, and moves a FAILED one back when the gateway returns (NOTES-kernel.md).
 * One `ping -c 1` per gateway per round, never a process per route, and bounded: at most `concurrency` (8) at once,
 * over at most --probe-max-gateways gateways (the planner caps and reports the list). `ping` needs only CAP_NET_RAW
 * (the agent runs it as root with NET_RAW; the image's ping has no setuid bit or file capabilities).
 * A gateway goes down after `fall` failed rounds in a row and comes back after `rise` answered ones.
 * Not done yet (docs/security.md): one long-lived prober process or raw socket for all gateways.
 */
import { eachLimited } from './concurrency.js';
import { execProgram } from './exec.js';
import type { Logger } from './log.js';

/** What to probe for one gateway: the gateway itself, and optionally a target through it (forwarding liveness). */
export interface ProbeTarget {
  readonly gateway: string;
  /** Probe `target` with packets marked `mark`, which a kroute rule steers through this gateway. */
  readonly forward?: { readonly target: string; readonly mark: number };
}

/** Probes one gateway once; ok when it answered in time (and forwarded, when asked). */
export type ProbeFn = (target: ProbeTarget, timeoutMs: number) => Promise<{ ok: boolean; error?: string; reason?: string }>;

/** Options of the prober. */
export interface ProberProps {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly log: Logger;
  /** Called when a gateway changes state, with every gateway now down. */
  readonly onChange: (down: ReadonlySet<string>, changed: { gateway: string; up: boolean }[]) => void;
  /** How to probe. @default pingProbe() */
  readonly probe?: ProbeFn;
  /** Probes in flight at once (each a `ping` process). @default PROBES_IN_FLIGHT */
  readonly concurrency?: number;
}

/** Probe processes at once: 64 gateways with a 1 s timeout still finish a round in 8 s, well inside DOKS's 30 s. */
export const PROBES_IN_FLIGHT = 8;

/** One gateway's probing state. */
export interface GatewayHealth {
  up: boolean;
  fails: number;
  oks: number;
  lastError?: string;
}

/** A probe with the `ping` binary; `wrap` prefixes the command (e.g. `ip netns exec NS` in tests). */
export function pingProbe(wrap: readonly string[] = []): ProbeFn {
  const once = async (address: string, timeoutMs: number, mark?: number) => {
    const args = ['-n', '-q', '-c', '1', '-W', String(Math.max(timeoutMs, 1) / 1000), ...(mark !== undefined ? ['-m', String(mark)] : []),
      ...(address.includes(':') ? ['-6'] : []), address];
    const [cmd, ...rest] = [...wrap, 'ping', ...args];
    const r = await execProgram(cmd, rest, { timeoutMs: timeoutMs + 5000 });
    if (r.code === 0) return { ok: true };
    // Exit 1: no reply. Exit 2 or a start failure: ping itself failed (e.g. "Operation not permitted" without NET_RAW).
    const error = r.error ?? (r.code === 1 ? undefined : r.stderr.trim() || `ping exited with ${r.code}`);
    return error ? { ok: false, error } : { ok: false };
  };
  return async (t, timeoutMs) => {
    const direct = await once(t.gateway, timeoutMs);
    if (!direct.ok || !t.forward) return direct.ok ? direct : { ...direct, reason: 'no ICMP reply from the gateway' };
    const through = await once(t.forward.target, timeoutMs, t.forward.mark);
    return through.ok ? through : { ...through, reason: `answers ICMP but ${t.forward.target} does not answer through it (not forwarding)` };
  };
}

/** Probes gateways in rounds and says when one goes down or comes back. */
export class Prober {
  private readonly health = new Map<string, GatewayHealth>();
  private readonly targets = new Map<string, ProbeTarget>();
  private timer?: NodeJS.Timeout;
  private running = false;
  private stopped = true;
  private readonly probe: ProbeFn;
  private readonly reported = new Set<string>();

  constructor(private readonly props: ProberProps) {
    this.probe = props.probe ?? pingProbe();
  }

  /** The gateways to probe; new ones start up (as DOKS does), gone ones are forgotten. */
  setTargets(targets: readonly (string | ProbeTarget)[]): void {
    const want = new Map(targets.map((t) => (typeof t === 'string' ? { gateway: t } : t)).map((t) => [t.gateway, t]));
    for (const g of [...this.health.keys()]) {
      if (!want.has(g)) {
        this.health.delete(g);
        this.targets.delete(g);
      }
    }
    for (const [g, t] of want) {
      this.targets.set(g, t);
      if (!this.health.has(g)) this.health.set(g, { up: true, fails: 0, oks: 0 });
    }
  }

  /** Gateways currently down. */
  down(): Set<string> {
    return new Set([...this.health].filter(([, h]) => !h.up).map(([g]) => g));
  }

  /** A copy of every gateway's state. */
  snapshot(): Map<string, GatewayHealth> {
    return new Map([...this.health].map(([g, h]) => [g, { ...h }]));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const started = Date.now();
      void this.round().finally(() => this.schedule(Math.max(0, this.props.intervalMs - (Date.now() - started))));
    }, delayMs);
  }

  /** Probes every gateway once (the timer calls it; tests may too). */
  async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const targets = [...this.targets.values()];
      const answers = new Map<string, Awaited<ReturnType<ProbeFn>>>();
      await eachLimited(targets, this.props.concurrency ?? PROBES_IN_FLIGHT, async (t) => {
        answers.set(t.gateway, await this.probe(t, this.props.timeoutMs));
      });
      const results = targets.flatMap((t) => { const r = answers.get(t.gateway); return r ? [[t.gateway, r] as const] : []; });
      const changed: { gateway: string; up: boolean }[] = [];
      for (const [g, r] of results) {
        const h = this.health.get(g);
        if (!h) continue;
        if (r.error && !this.reported.has(r.error)) {
          this.reported.add(r.error);
          this.props.log.warn('probe failed to run', { gateway: g, error: r.error });
        }
        if (r.ok) {
          h.oks++;
          h.fails = 0;
          delete h.lastError;
          if (!h.up && h.oks >= this.props.rise) {
            h.up = true;
            changed.push({ gateway: g, up: true });
          }
        } else {
          h.fails++;
          h.oks = 0;
          const why = r.error ?? r.reason;
          if (why) h.lastError = why;
          if (h.up && h.fails >= this.props.fall) {
            h.up = false;
            this.props.log.warn('gateway failed its probes', { gateway: g, fails: h.fails, why });
            changed.push({ gateway: g, up: false });
          }
        }
      }
      if (changed.length) this.props.onChange(this.down(), changed);
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
