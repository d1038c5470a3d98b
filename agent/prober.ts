/**
 * Gateway liveness, as DOKS does it: an ICMP echo to every gateway of every applied route each interval. Pinging also
 * keeps the gateway's neighbour entry fresh, and moves a FAILED one back when the gateway returns (NOTES-kernel.md).
 *
 * One long-lived `fping -l` probes every gateway (docs/safety.md, "Probing"): one process per node however many
 * gateways, never one per gateway per round; at most --probe-max-gateways gateways (the planner caps and reports the
 * list). It is restarted only when the set of gateways changes (or it exits). Forwarding probes
 * (--forward-probe-target, off by default) need a mark per gateway, which Debian bookworm's fping 5.1 cannot set: one
 * long-lived `ping -m MARK` per such gateway. Both need CAP_NET_RAW (raw ICMP sockets; the image's fping and ping
 * carry no file capabilities, the agent runs as root with NET_RAW).
 *
 * A gateway goes down after `fall` lost probes in a row and comes back after `rise` answered ones (with a forwarding
 * probe: either kind lost `fall` times takes it down; both answered `rise` times bring it back).
 */
import type { Logger } from './log.js';
import { EchoStream, type EchoOutcome } from './probe-stream.js';

/** What to probe for one gateway: the gateway itself, and optionally a target through it (forwarding liveness). */
export interface ProbeTarget {
  readonly gateway: string;
  /** Probe `target` with packets marked `mark`, which a kroute rule steers through this gateway. */
  readonly forward?: { readonly target: string; readonly mark: number };
}

/** Options of the prober. */
export interface ProberProps {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly fall: number;
  readonly rise: number;
  readonly log: Logger;
  /** Called when gateways change state, with every gateway now down. */
  readonly onChange: (down: ReadonlySet<string>, changed: { gateway: string; up: boolean }[]) => void;
  /** A prefix for the probe commands (e.g. `ip netns exec NS` in tests). @default none */
  readonly wrap?: readonly string[];
}

/** One gateway's probing state. */
export interface GatewayHealth {
  up: boolean;
  fails: number;
  oks: number;
  lastError?: string;
}

/** Probed alongside the gateways: loopback always answers, so its silence means the prober itself cannot hear. */
export const PROBER_CANARY = '127.0.0.1';

interface Counts {
  fails: number;
  oks: number;
  why?: string;
}

interface State {
  up: boolean;
  direct: Counts;
  forward?: Counts & { readonly key: string; readonly target: string };
}

/** The fping command for these gateways: loop mode, one period, one timeout, by address. */
export function fpingCommand(gateways: readonly string[], periodMs: number, timeoutMs: number, spreadMs: number): string[] {
  return ['fping', '-l', '-A', '-p', String(periodMs), '-t', String(timeoutMs), '-i', String(spreadMs), ...gateways];
}

/** Probes gateways continuously and says when one goes down or comes back. */
export class Prober {
  private readonly health = new Map<string, State>();
  private direct?: { readonly key: string; readonly stream: EchoStream };
  private readonly forwards = new Map<string, EchoStream>();
  private stopped = true;
  private readonly reported = new Set<string>();
  private pending: { gateway: string; up: boolean }[] = [];
  private canaryLost = false;
  private wanted = new Map<string, ProbeTarget>();
  private readonly periodMs: number;
  private readonly timeoutMs: number;

  constructor(private readonly props: ProberProps) {
    // fping's timeout must not exceed its period; the round-based prober before it waited out the timeout too.
    this.timeoutMs = Math.max(10, Math.round(props.timeoutMs));
    this.periodMs = Math.max(this.timeoutMs, Math.round(props.intervalMs));
  }

  /** The gateways to probe; new ones start up (as DOKS does), gone ones are forgotten. */
  setTargets(targets: readonly (string | ProbeTarget)[]): void {
    const want = new Map(targets.map((t) => (typeof t === 'string' ? { gateway: t } : t)).map((t) => [t.gateway, t]));
    for (const g of [...this.health.keys()]) if (!want.has(g)) this.health.delete(g);
    for (const [g, t] of want) {
      const s = this.health.get(g) ?? { up: true, direct: { fails: 0, oks: 0 } };
      const key = t.forward ? `${t.forward.target}|${t.forward.mark}` : undefined;
      if (!t.forward || key === undefined) delete s.forward;
      else if (s.forward?.key !== key) s.forward = { key, target: t.forward.target, fails: 0, oks: 0 };
      this.health.set(g, s);
    }
    if (!this.stopped) this.sync(want);
    else this.wanted = want;
  }

  /** Starts, stops or replaces the probe processes to match the targets. */
  private sync(want: ReadonlyMap<string, ProbeTarget>): void {
    this.wanted = new Map(want);
    const gateways = [...want.keys()].sort();
    const key = gateways.join(' ');
    if (this.direct?.key !== key) {
      this.direct?.stream.stop();
      this.direct = undefined;
      if (gateways.length) {
        const all = [...gateways, PROBER_CANARY];
        // Sends spread within the period (fping's -i, at most its default 10 ms), so every target is sent to each period.
        const spreadMs = Math.max(1, Math.min(10, Math.floor(this.periodMs / (all.length + 1))));
        const stream = new EchoStream({
          command: [...(this.props.wrap ?? []), ...fpingCommand(all, this.periodMs, this.timeoutMs, spreadMs)],
          targets: all,
          format: 'fping',
          periodMs: this.periodMs,
          timeoutMs: this.timeoutMs,
          spreadMs,
          onOutcome: (o) => this.outcome('direct', o),
          onError: (e) => this.failedToRun(e),
        });
        this.direct = { key, stream };
        stream.start();
      }
    }
    const forwardKeys = new Map<string, ProbeTarget>([...want.values()].flatMap((t) => (t.forward ? [[`${t.gateway}|${t.forward.target}|${t.forward.mark}`, t] as [string, ProbeTarget]] : [])));
    for (const [k, s] of [...this.forwards]) {
      if (!forwardKeys.has(k)) {
        s.stop();
        this.forwards.delete(k);
      }
    }
    for (const [k, t] of forwardKeys) {
      if (this.forwards.has(k) || !t.forward) continue;
      const f = t.forward;
      const stream = new EchoStream({
        command: [...(this.props.wrap ?? []), 'ping', '-n', '-i', String(this.periodMs / 1000), '-m', String(f.mark), ...(f.target.includes(':') ? ['-6'] : []), f.target],
        targets: [f.target],
        format: 'ping',
        periodMs: this.periodMs,
        timeoutMs: this.timeoutMs,
        onOutcome: (o) => this.outcome('forward', o, t.gateway),
        onError: (e) => this.failedToRun(e),
      });
      this.forwards.set(k, stream);
      stream.start();
    }
  }

  private failedToRun(error: string): void {
    if (this.reported.has(error)) return;
    this.reported.add(error);
    const hint = /can't create socket|Operation not permitted|EPERM/i.test(error)
      ? ' (no raw ICMP socket: the agent needs CAP_NET_RAW; socket() was refused, Operation not permitted)'
      : '';
    this.props.log.warn('probe failed to run', { error: `${error}${hint}` });
  }

  private outcome(kind: 'direct' | 'forward', o: EchoOutcome, forGateway?: string): void {
    if (kind === 'direct' && o.target === PROBER_CANARY) {
      if (!o.ok && !this.canaryLost) {
        this.props.log.warn('the prober hears no reply even from loopback: its ICMP socket cannot receive, so gateway losses prove nothing about the gateways', {
          canary: PROBER_CANARY, why: o.why, hint: 'fping 5.1 without CAP_NET_RAW falls back to an ICMP datagram socket it cannot read: grant NET_RAW',
        });
      }
      this.canaryLost = !o.ok;
      return;
    }
    const g = forGateway ?? o.target;
    const h = this.health.get(g);
    if (!h) return;
    const c = kind === 'direct' ? h.direct : h.forward;
    if (!c) return;
    if (o.ok) {
      c.oks++;
      c.fails = 0;
      delete c.why;
    } else {
      c.fails++;
      c.oks = 0;
      const blind = this.canaryLost ? `; the prober hears no reply even from ${PROBER_CANARY}` : '';
      c.why = kind === 'direct'
        ? `no ICMP reply from the gateway${o.why ? ` (${o.why})` : ''}${blind}`
        : `answers ICMP but ${h.forward?.target} does not answer through it (not forwarding)${o.why ? ` (${o.why})` : ''}${blind}`;
    }
    const fall = this.props.fall;
    if (h.up && (h.direct.fails >= fall || (h.forward?.fails ?? 0) >= fall)) {
      h.up = false;
      const health = this.view(h);
      this.props.log.warn('gateway failed its probes', { gateway: g, fails: health.fails, why: health.lastError });
      this.changed({ gateway: g, up: false });
    } else if (!h.up && h.direct.oks >= this.props.rise && (!h.forward || h.forward.oks >= this.props.rise)) {
      h.up = true;
      this.changed({ gateway: g, up: true });
    }
  }

  /** Changes that arrive together (one failure seen by many gateways) reach onChange as one call. */
  private changed(c: { gateway: string; up: boolean }): void {
    this.pending.push(c);
    if (this.pending.length > 1) return;
    setImmediate(() => {
      const changes = this.pending;
      this.pending = [];
      if (!this.stopped) this.props.onChange(this.down(), changes);
    });
  }

  private view(h: State): GatewayHealth {
    const fails = Math.max(h.direct.fails, h.forward?.fails ?? 0);
    const oks = Math.min(h.direct.oks, h.forward?.oks ?? Number.POSITIVE_INFINITY);
    const why = h.direct.why ?? h.forward?.why;
    return { up: h.up, fails, oks, ...(why ? { lastError: why } : {}) };
  }

  /** Gateways currently down. */
  down(): Set<string> {
    return new Set([...this.health].filter(([, h]) => !h.up).map(([g]) => g));
  }

  /** A copy of every gateway's state. */
  snapshot(): Map<string, GatewayHealth> {
    return new Map([...this.health].map(([g, h]) => [g, this.view(h)]));
  }

  /** Process ids of the probe processes now running (one fping, plus one ping per forwarding probe). */
  processes(): number[] {
    return [this.direct?.stream.pid, ...[...this.forwards.values()].map((s) => s.pid)].filter((p): p is number => p !== undefined);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.sync(this.wanted);
  }

  stop(): void {
    this.stopped = true;
    this.direct?.stream.stop();
    this.direct = undefined;
    for (const s of this.forwards.values()) s.stop();
    this.forwards.clear();
  }
}
