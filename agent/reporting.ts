/**
 * The reporting loop: finalizers, status entries and Events, off the kernel path. The dataplane loop publishes the
 * latest outcome per Route as a value and goes on; this loop writes it with its own queue:
 * - one key per Route, coalesced to the newest value (ten outcomes of one Route while its write is in flight are
 *   one more write, of the last), Events appended per Route (capped);
 * - at most `concurrency` Routes written at once, so one slow or failing Route delays nobody else;
 * - the reporter's calls carry their own deadlines and retries with backoff (agent/kube/transport.ts, reporter.ts);
 * - it yields to the dataplane: while a pass is due or running (`busy`) no write starts and no write in flight sends
 *   its next request (building and sending requests would take the event loop from the kernel write), and between
 *   two requests it lets the rest of the turn run first (a watch read that starts a pass); the dataplane resumes it
 *   when idle, and a dataplane that never rests still lets it go on every {@link MAX_YIELD_MS};
 * - `stop()` drops what is queued and returns at once: nothing here can hold up a shutdown.
 * Per Route, in order: hold the finalizer (the kernel already has the routes: docs/finalizers.md), the status entry
 * (or its removal), release, then Events.
 */
import type { RouteNodeStatus } from '../core/index.js';
import type { Logger } from './log.js';
import type { AgentEvent, Reporter } from './ports.js';

/** What the dataplane has to say about one Route after a pass. */
export interface RouteReport {
  /** This node's entry; `NotSelected` removes it (reporter.clear). */
  readonly status: RouteNodeStatus;
  /** The node holds the Route's routes: make sure its finalizer is there. */
  readonly hold: boolean;
  /** The Route is being deleted and none of its routes is left in the kernel: release the finalizer. */
  readonly release: boolean;
}

/** Events kept per Route while its writes wait (older ones are dropped and counted in the log). */
const EVENTS_PER_ROUTE = 16;
/** Longest the reporting loop waits for a busy dataplane before it starts writes anyway. */
export const MAX_YIELD_MS = 100;

interface Slot {
  report?: RouteReport;
  events: AgentEvent[];
  running: boolean;
}

/** Options of {@link ReportingLoop}. */
export interface ReportingLoopProps {
  readonly reporter: Reporter;
  readonly log: Logger;
  /** Routes written at once. @default 16 */
  readonly concurrency?: number;
  /** True while the dataplane has a pass due or running: no write starts then (it calls {@link ReportingLoop.resume}). */
  readonly busy?: () => boolean;
}

/** A per-Route coalescing work queue in front of a Reporter. */
export class ReportingLoop {
  private readonly slots = new Map<string, Slot>();
  /** Routes with something to write, in the order they became dirty. */
  private readonly dirty = new Set<string>();
  private active = 0;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** What waits for the dataplane to go idle: starting writes, and the next step of writes in flight. */
  private parked: (() => void)[] = [];
  private drainParked = false;
  private yieldTimer?: NodeJS.Timeout;
  /** Reports and events handed to the reporter so far. */
  delivered = 0;

  constructor(private readonly props: ReportingLoopProps) {}

  /** Routes with a write queued or in flight. */
  get backlog(): number {
    return this.slots.size;
  }

  /** Replaces whatever was queued for `name` with `report`. Never blocks. */
  publish(name: string, report: RouteReport): void {
    if (this.stopped) return;
    this.slot(name).report = report;
    this.mark(name);
  }

  /** Queues an Event about `name` behind its other writes. Never blocks. */
  event(e: AgentEvent): void {
    if (this.stopped) return;
    const s = this.slot(e.routeName);
    s.events.push(e);
    if (s.events.length > EVENTS_PER_ROUTE) {
      const dropped = s.events.splice(0, s.events.length - EVENTS_PER_ROUTE);
      this.props.log.warn('events dropped while the API server is slow', { route: e.routeName, dropped: dropped.length });
    }
    this.mark(e.routeName);
  }

  /** Resolves when nothing is queued or in flight (tests, the benchmark). */
  idle(): Promise<void> {
    if (this.slots.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The dataplane is idle: go on with what waits. */
  resume(): void {
    if (this.yieldTimer) clearTimeout(this.yieldTimer);
    this.yieldTimer = undefined;
    const parked = this.parked;
    this.parked = [];
    for (const f of parked) f();
  }

  /** Drops everything queued; writes in flight finish or fail on their own deadlines, unawaited. */
  stop(): void {
    this.stopped = true;
    if (this.yieldTimer) clearTimeout(this.yieldTimer);
    this.yieldTimer = undefined;
    this.parked = [];
    this.drainParked = false;
    this.dirty.clear();
    this.slots.clear();
    this.wake();
  }

  private slot(name: string): Slot {
    let s = this.slots.get(name);
    if (!s) {
      s = { events: [], running: false };
      this.slots.set(name, s);
    }
    return s;
  }

  private mark(name: string): void {
    if (!this.slots.get(name)?.running) this.dirty.add(name);
    this.pump();
  }

  private pump(): void {
    if (this.drainParked) return;
    this.drainParked = true;
    this.whenIdle(() => {
      this.drainParked = false;
      this.drain();
    });
  }

  /** Runs `f` now when the dataplane is idle, else once it resumes this loop (at most MAX_YIELD_MS later). */
  private whenIdle(f: () => void): void {
    if (!this.props.busy?.()) return f();
    this.parked.push(f);
    this.yieldTimer ??= setTimeout(() => this.resume(), MAX_YIELD_MS);
  }

  /**
   * Between two requests of one Route: after this turn's other callbacks (a watch read that starts a pass comes
   * first), and not while the pass runs.
   */
  private nextTurn(): Promise<void> {
    return new Promise((resolve) => setImmediate(() => this.whenIdle(resolve)));
  }

  private drain(): void {
    const limit = this.props.concurrency ?? 16;
    while (!this.stopped && this.active < limit && this.dirty.size > 0) {
      const name = this.dirty.values().next().value as string;
      this.dirty.delete(name);
      const s = this.slots.get(name);
      if (!s || s.running) continue;
      const report = s.report;
      const events = s.events;
      s.report = undefined;
      s.events = [];
      s.running = true;
      this.active++;
      void this.write(name, report, events).finally(() => {
        this.active--;
        s.running = false;
        if (this.slots.get(name) === s) {
          if (s.report || s.events.length) this.dirty.add(name);
          else this.slots.delete(name);
        }
        this.pump();
        this.wake();
      });
    }
  }

  private wake(): void {
    if (this.slots.size > 0 && !this.stopped) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private async write(name: string, report: RouteReport | undefined, events: readonly AgentEvent[]): Promise<void> {
    const { reporter, log } = this.props;
    let steps = 0;
    const step = async (what: string, f: () => Promise<void>) => {
      if (steps++ > 0) await this.nextTurn();
      if (this.stopped) return;
      try {
        await f();
      } catch (e) {
        log.warn(`${what} failed`, { route: name, error: e as Error });
      }
    };
    if (report) {
      this.delivered++;
      if (report.hold) await step('hold', () => reporter.hold(name));
      if (report.status.state === 'NotSelected') await step('status', () => reporter.clear(name, report.status));
      else await step('status', () => reporter.status(name, report.status));
      if (report.release) await step('release', () => reporter.release(name));
    }
    for (const e of events) {
      if (this.stopped) return;
      this.delivered++;
      await step('event', () => reporter.event(e));
    }
  }
}
