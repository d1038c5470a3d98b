/**
 * Gateway liveness, as DOKS does it: an ICMP echo to every gateway of every applied route each interval. Pinging also
 * keeps the gateway's neighbour entry fresh, and moves a FAILED one back when the gateway returns (NOTES-kernel.md).
 *
 * One long-lived `fping -l` probes every gateway (docs/safety.md, "Probing"): one process per node however many
 * gateways, never one per gateway per round; at most --probe-max-gateways gateways (the planner caps and reports the
 * list). It is restarted only when the set of gateways changes (or it exits). Forwarding probes
 * (--forward-probe-target, off by default) need a mark per gateway, which fping 5.1 (Debian bookworm's and trixie's)
 * cannot set: one long-lived `kroute-probe` (agent/probe, --forward-prober) sends them all, one raw socket per mark,
 * restarted only when the set of forwarding probes changes. Both need CAP_NET_RAW (raw ICMP sockets; kroute-probe's
 * marks CAP_NET_ADMIN; the image's binaries carry no file capabilities, the agent runs as root with both).
 *
 * A gateway goes down after `fall` lost probes in a row and comes back after `rise` answered ones (with a forwarding
 * probe: either kind lost `fall` times takes it down; both answered `rise` times bring it back). While kroute-probe
 * is not running (missing, refused a socket, exited), forwarding probes count neither way: gateways are judged by
 * their own replies only, as without --forward-probe-target, and the agent says so; a dead prober never takes the
 * gateways out.
 */
import { AGENT_OPTIONS } from '../core/options.js';
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
  /** The forwarding prober's executable (--forward-prober). @default /usr/local/bin/kroute-probe, as in the image */
  readonly forwardProber?: string;
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

/** The kroute-probe command for these forwarding probes: one `NAME,TARGET,MARK` each, the gateway as the name. */
export function forwardProbeCommand(prober: string, probes: readonly ProbeTarget[], periodMs: number, timeoutMs: number, spreadMs: number): string[] {
  const specs = probes.flatMap((t) => (t.forward ? [`${t.gateway},${t.forward.target},${t.forward.mark}`] : []));
  return [prober, '-period-ms', String(periodMs), '-timeout-ms', String(timeoutMs), '-spread-ms', String(spreadMs), ...specs];
}

/** fping's -i and kroute-probe's -spread-ms: sends spread within the period, at most fping's default 10 ms apart. */
function spreadFor(periodMs: number, targets: number): number {
  return Math.max(1, Math.min(10, Math.floor(periodMs / (targets + 1))));
}

/** Probes gateways continuously and says when one goes down or comes back. */
export class Prober {
  private readonly health = new Map<string, State>();
  private direct?: { readonly key: string; readonly stream: EchoStream };
  private forward?: { readonly key: string; readonly stream: EchoStream };
  /** Why the forwarding prober is not running, while it is not: its probes then count neither way. */
  private forwardDown?: string;
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
        // Sends spread within the period, so every target is sent to each period.
        const spreadMs = spreadFor(this.periodMs, all.length);
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
    const forwards = gateways.flatMap((g) => {
      const t = want.get(g);
      return t?.forward ? [t] : [];
    });
    const forwardKey = forwards.map((t) => `${t.gateway},${t.forward?.target},${t.forward?.mark}`).join(' ');
    if (this.forward?.key !== forwardKey) {
      this.forward?.stream.stop();
      this.forward = undefined;
      if (forwards.length === 0) this.forwardDown = undefined;
      else {
        const spreadMs = spreadFor(this.periodMs, forwards.length);
        const prober = this.props.forwardProber ?? AGENT_OPTIONS.forwardProber.default;
        const stream = new EchoStream({
          command: [...(this.props.wrap ?? []), ...forwardProbeCommand(prober, forwards, this.periodMs, this.timeoutMs, spreadMs)],
          targets: forwards.map((t) => t.gateway),
          format: 'kroute-probe',
          periodMs: this.periodMs,
          timeoutMs: this.timeoutMs,
          spreadMs,
          onOutcome: (o) => this.outcome('forward', o),
          onError: (e) => this.forwardFailed(e),
          onRunning: () => this.forwardRunning(),
        });
        this.forward = { key: forwardKey, stream };
        stream.start();
      }
    }
  }

  /** kroute-probe failed to start or exited: until it runs again, gateways are judged by their direct probes only. */
  private forwardFailed(error: string): void {
    if (this.forwardDown !== undefined) return;
    this.forwardDown = error;
    this.props.log.warn('the forwarding prober is not running: gateways are judged by their own ICMP replies only until it runs again (restarted every probe interval)', {
      error: `${error}${this.hint(error)}`, prober: this.props.forwardProber ?? AGENT_OPTIONS.forwardProber.default,
    });
    for (const [g, h] of this.health) {
      if (!h.forward) continue;
      h.forward.fails = 0;
      h.forward.oks = 0;
      delete h.forward.why;
      this.judge(g, h);
    }
  }

  private forwardRunning(): void {
    if (this.forwardDown === undefined) return;
    this.forwardDown = undefined;
    this.props.log.info('the forwarding prober runs again: forwarding probes count again');
  }

  private hint(error: string): string {
    return /can't create socket|Operation not permitted|EPERM/i.test(error)
      ? ' (no raw ICMP socket or mark: the agent needs CAP_NET_RAW, and CAP_NET_ADMIN for forwarding probes\' marks; Operation not permitted)'
      : /ENOENT|no such file/i.test(error) ? ` (install kroute-probe there, or point --forward-prober at it)` : '';
  }

  private failedToRun(error: string): void {
    if (this.reported.has(error)) return;
    this.reported.add(error);
    this.props.log.warn('probe failed to run', { error: `${error}${this.hint(error)}` });
  }

  private outcome(kind: 'direct' | 'forward', o: EchoOutcome): void {
    if (kind === 'direct' && o.target === PROBER_CANARY) {
      if (!o.ok && !this.canaryLost) {
        this.props.log.warn('the prober hears no reply even from loopback: its ICMP socket cannot receive, so gateway losses prove nothing about the gateways', {
          canary: PROBER_CANARY, why: o.why, hint: 'fping 5.1 without CAP_NET_RAW falls back to an ICMP datagram socket it cannot read: grant NET_RAW',
        });
      }
      this.canaryLost = !o.ok;
      return;
    }
    if (kind === 'forward' && this.forwardDown !== undefined) return;
    const g = o.target;
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
    this.judge(g, h);
  }

  /** Takes the gateway out or puts it back by its counts (its forwarding probe's only while kroute-probe runs). */
  private judge(g: string, h: State): void {
    const forward = this.forwardDown === undefined ? h.forward : undefined;
    const fall = this.props.fall;
    if (h.up && (h.direct.fails >= fall || (forward?.fails ?? 0) >= fall)) {
      h.up = false;
      const health = this.view(h);
      this.props.log.warn('gateway failed its probes', { gateway: g, fails: health.fails, why: health.lastError });
      this.changed({ gateway: g, up: false });
    } else if (!h.up && h.direct.oks >= this.props.rise && (!forward || forward.oks >= this.props.rise)) {
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

  /** A gateway's counts as they judge it: its forwarding probe's only while kroute-probe runs. */
  private view(h: State): GatewayHealth {
    const forward = this.forwardDown === undefined ? h.forward : undefined;
    const fails = Math.max(h.direct.fails, forward?.fails ?? 0);
    const oks = Math.min(h.direct.oks, forward?.oks ?? Number.POSITIVE_INFINITY);
    const why = h.direct.why ?? forward?.why;
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

  /** Process ids of the probe processes now running: one fping, and one kroute-probe when there are forwarding probes. */
  processes(): number[] {
    return [this.direct?.stream.pid, this.forward?.stream.pid].filter((p): p is number => p !== undefined);
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
    this.forward?.stream.stop();
    this.forward = undefined;
  }
}
