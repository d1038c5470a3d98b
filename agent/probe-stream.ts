/**
 * One long-lived ICMP echo process and what it says, as one outcome per target per period: answered in time, or
 * lost. `fping -l` probes every gateway from one process (docs/safety.md, "Probing"); `kroute-probe` (agent/probe,
 * kroute's own, in Go) probes every forwarding target, each through its gateway by a mark, from one process too
 * (fping 5.1, Debian bookworm's and trixie's, cannot set a mark). Both print one line per probe, timeouts included.
 *
 * Losses come from three places, so none goes unseen: the tool's own timeout line (fping's `timed out`,
 * kroute-probe's `timeout`), a gap in the sequence numbers (a send the kernel refused prints nothing, e.g. no route
 * to the gateway), and a watchdog for a target that has gone silent (every send refused, or the process gone). Each
 * sequence number counts once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One probe's outcome. */
export interface EchoOutcome {
  readonly target: string;
  readonly seq: number;
  readonly ok: boolean;
  /** Why it was lost, when the tool or the kernel said (ICMP unreachable, a send error, the process failing). */
  readonly why?: string;
}

/** What one output line says about one target's probe. */
export interface EchoLine {
  readonly target: string;
  readonly seq: number;
  readonly ok: boolean;
  /** Round-trip time of a reply, ms. */
  readonly rttMs?: number;
  readonly why?: string;
}

/** Parses one line of `fping -l -A` (stdout: replies and timeouts). */
export function parseFpingLine(line: string): EchoLine | undefined {
  const m = /^(\S+)\s+: \[(\d+)\], (?:\d+ bytes, ([\d.]+) ms|(timed out))/.exec(line);
  if (!m) return undefined;
  return m[4] ? { target: m[1], seq: Number(m[2]), ok: false } : { target: m[1], seq: Number(m[2]), ok: true, rttMs: Number(m[3]) };
}

/** The target an fping stderr line is about (`ICMP Host Unreachable from X for ICMP Echo sent to Y`), if any. */
export function fpingStderrTarget(line: string): string | undefined {
  return /for ICMP Echo sent to (\S+)/.exec(line)?.[1];
}

/**
 * Parses one line of `kroute-probe` (agent/probe/main.go): `NAME SEQ reply RTT_MS`, `NAME SEQ timeout` or
 * `NAME SEQ error TEXT`; `target` is the NAME.
 */
export function parseProbeLine(line: string): EchoLine | undefined {
  const m = /^(\S+) (\d+) (?:reply ([\d.]+)|(timeout)|error (.+))$/.exec(line.trim());
  if (!m) return undefined;
  if (m[3] !== undefined) return { target: m[1], seq: Number(m[2]), ok: true, rttMs: Number(m[3]) };
  return m[4] ? { target: m[1], seq: Number(m[2]), ok: false } : { target: m[1], seq: Number(m[2]), ok: false, why: m[5] };
}

/** Output formats the stream parses. */
export type EchoFormat = 'fping' | 'kroute-probe';

/** How to run one stream. */
export interface EchoStreamProps {
  /** The program and its arguments. */
  readonly command: readonly string[];
  /** The targets (kroute-probe: their names), in the order the program sends to them. */
  readonly targets: readonly string[];
  /** `fping` or `kroute-probe`: all targets from one process, sequence numbers from 0, timeouts printed. */
  readonly format: EchoFormat;
  readonly periodMs: number;
  readonly timeoutMs: number;
  /** Delay between the sends to consecutive targets within a period (fping's -i). @default 0 */
  readonly spreadMs?: number;
  readonly onOutcome: (o: EchoOutcome) => void;
  /** Called with the program's error output when it fails to start or exits (it is restarted after one period). */
  readonly onError?: (error: string) => void;
  /** Called at the first line the program prints after it started (it runs, and hears). */
  readonly onRunning?: () => void;
}

interface Track {
  /** Highest sequence number counted. */
  resolved: number;
  /** A sequence number and when it was sent (ms): later sends follow every period. */
  anchorSeq: number;
  anchorSentAt: number;
  /** The last reason the kernel or the tool gave for this target. */
  why?: string;
}

/** A long-lived echo process with the watchdog above; restarted after one period when it exits. */
export class EchoStream {
  private child?: ChildProcess;
  private tracks = new Map<string, Track>();
  private watchdog?: NodeJS.Timeout;
  private restart?: NodeJS.Timeout;
  private stopped = false;
  /** The process's failure, given as the reason for every loss until it runs again. */
  private failure?: string;
  private stderrTail = '';
  /** Whether this run of the program has printed a line yet. */
  private heard = false;
  private readonly graceMs: number;

  constructor(private readonly props: EchoStreamProps) {
    // Both tools print a timeout at send + timeout: the watchdog steps in only for a target gone silent.
    this.graceMs = Math.max(250, Math.min(props.periodMs, 1000) / 2);
  }

  /** The process id while it runs (tests count processes by it). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.stopped || this.child) return;
    const [cmd, ...args] = this.props.command;
    const now = Date.now();
    this.tracks = new Map(this.props.targets.map((t, i) => [t, { resolved: -1, anchorSeq: 0, anchorSentAt: now + i * (this.props.spreadMs ?? 0) }]));
    this.stderrTail = '';
    this.heard = false;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.on('error', (e) => this.fail(`${cmd} failed to start: ${e.message}`));
    createInterface({ input: child.stdout }).on('line', (line) => this.line(line));
    createInterface({ input: child.stderr }).on('line', (line) => {
      this.stderrTail = line.trim();
      // kroute-probe's stderr is only ever fatal (its per-probe errors are stdout lines).
      const about = this.props.format === 'fping' ? fpingStderrTarget(line) : undefined;
      const track = about === undefined ? undefined : this.tracks.get(about);
      if (track) track.why = line.trim();
    });
    child.on('close', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopped) return;
      this.fail(`${cmd} exited (${signal ?? `code ${code}`})${this.stderrTail ? `: ${this.stderrTail}` : ''}`);
    });
    this.arm();
  }

  /** The time the next unanswered probe of any target is due. */
  private nextDue(): number {
    let due = Number.POSITIVE_INFINITY;
    for (const t of this.tracks.values()) due = Math.min(due, this.dueOf(t, t.resolved + 1));
    return due;
  }

  private dueOf(t: Track, seq: number): number {
    return t.anchorSentAt + (seq - t.anchorSeq) * this.props.periodMs + this.props.timeoutMs + this.graceMs;
  }

  /** One timer, set for the next due probe (no polling: at a 30 s period it wakes once per period). */
  private arm(): void {
    if (this.stopped) return;
    if (this.watchdog) clearTimeout(this.watchdog);
    const due = this.nextDue();
    if (!Number.isFinite(due)) return;
    this.watchdog = setTimeout(() => this.sweep(), Math.max(1, due - Date.now() + 1));
    this.watchdog.unref();
  }

  private fail(error: string): void {
    if (this.failure === error && this.restart) return;
    this.failure = error;
    this.props.onError?.(error);
    this.child?.kill('SIGKILL');
    this.child = undefined;
    if (this.stopped || this.restart) return;
    this.restart = setTimeout(() => {
      this.restart = undefined;
      this.start();
    }, this.props.periodMs);
    this.restart.unref();
  }

  private line(text: string): void {
    const l = this.props.format === 'fping' ? parseFpingLine(text) : parseProbeLine(text);
    if (!l) return;
    const track = this.tracks.get(l.target);
    if (!track) return;
    this.failure = undefined;
    if (!this.heard) {
      this.heard = true;
      this.props.onRunning?.();
    }
    const now = Date.now();
    // A reply later than the timeout is a loss (both tools drop those themselves).
    const ok = l.ok && (l.rttMs ?? 0) <= this.props.timeoutMs;
    for (let s = track.resolved + 1; s < l.seq; s++) this.emit(l.target, s, false, track.why ?? 'the probe could not be sent');
    if (l.seq > track.resolved) {
      this.emit(l.target, l.seq, ok, ok ? undefined : l.why ?? track.why);
      track.resolved = l.seq;
    } else if (ok) {
      // Counted as lost by the watchdog a moment too early: the reply still counts.
      this.emit(l.target, l.seq, true);
    }
    track.anchorSeq = l.seq;
    track.anchorSentAt = now - (l.ok ? l.rttMs ?? 0 : this.props.timeoutMs);
    if (ok) delete track.why;
    this.arm();
  }

  private emit(target: string, seq: number, ok: boolean, why?: string): void {
    this.props.onOutcome(ok ? { target, seq, ok } : { target, seq, ok, ...(why ? { why } : {}) });
  }

  /** Counts as lost every probe whose answer is overdue and that nothing was heard about. */
  private sweep(): void {
    const now = Date.now();
    for (const [target, t] of this.tracks) {
      for (;;) {
        const next = t.resolved + 1;
        if (now < this.dueOf(t, next)) break;
        t.resolved = next;
        this.emit(target, next, false, this.failure ?? t.why ?? (this.stderrTail || undefined));
      }
    }
    this.arm();
  }

  /** Ends the process and the timers. */
  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearTimeout(this.watchdog);
    if (this.restart) clearTimeout(this.restart);
    this.child?.kill('SIGTERM');
    this.child = undefined;
  }
}
