/**
 * This node's RouteReport, written by this node's agent only (docs/status.md). The reporting loop calls a small
 * sink, `write(route, entry)` and `remove(route)`, which only records what is wanted; the writer sends the
 * difference as one JSON merge patch at a time, so a thousand entries changed at once are a handful of writes,
 * and a failed write is retried with backoff with whatever is newest then. Nothing here throws at the caller.
 */
import { reportMergePatch, reportObject, sameReportEntry, type ReportEntry } from '../../core/index.js';
import type { Logger } from '../log.js';
import { statusCode } from './api.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy, type Clock } from './backoff.js';
import { describe } from './informer.js';
import type { ReportApi } from './report-api.js';

/** Where the reporting loop puts what this node holds (the seam between the loop and the report). */
export interface ReportSink {
  /** This node holds (or tried to hold) the Route: its entry is `entry`. */
  write(routeName: string, entry: ReportEntry): void;
  /** This node holds nothing of the Route any more (removed, or not selected). */
  remove(routeName: string): void;
}

/** What the writer reads of the agent's caches. */
export interface ReportView {
  /** True once the Route and Node informers have listed. */
  readonly synced: boolean;
  route(name: string): { readonly metadata: { readonly uid?: string } } | undefined;
  /** This node's Node object (its uid makes the report owned by the Node). */
  nodeObject(): { readonly metadata: { readonly uid?: string } } | undefined;
}

/** Options of {@link NodeReportWriter}. */
export interface NodeReportWriterProps {
  readonly api: Pick<ReportApi, 'getReport' | 'createReport' | 'patchReport'>;
  readonly nodeName: string;
  readonly view: ReportView;
  readonly log: Logger;
  readonly clock: Clock;
  /** Quiet time that gathers changes into one write. @default 100 */
  readonly batchMs?: number;
  /**
   * More quiet time per entry the report holds, up to `maxBatchMs`: a write costs the API server in proportion to the
   * whole report (a one-entry patch of a 1,000-entry report is ~0.27 s of its CPU on the test machine,
   * test/scale/floor.ts), so a large report is written less often, with more changes in each: about 7 times what
   * the write costs, so one writer keeps the API server busy about an eighth of the time. (0.5 ms per entry, at
   * most 1 s, let two nodes' writes during a deletecollection of 1,000 take 10 of the API server's 15 CPU seconds.)
   * @default 2
   */
  readonly batchMsPerEntry?: number;
  /** @default 2500 */
  readonly maxBatchMs?: number;
  /**
   * The quiet time is also at least what the last write took, up to this long: a slow answer means a busy API
   * server, and a writer that waits as long as it was answered keeps it busy at most half the time (fewer writes,
   * each with more changes: a bulk deletion's report writes compete with its marks and releases). @default 2000
   */
  readonly maxBusyMs?: number;
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
}

/** The {@link ReportSink} over this node's RouteReport. */
export class NodeReportWriter implements ReportSink {
  private readonly desired = new Map<string, ReportEntry>();
  /** What the API server holds (as last written or read); undefined until the first read. */
  private written: Map<string, ReportEntry> | undefined;
  private exists = false;
  private pruned = false;
  private inFlight = false;
  private timer: unknown;
  private attempt = 0;
  private stopped = true;
  /** Write requests issued (create and patch), for tests and the scale simulation. */
  writes = 0;
  /** Bytes of the request bodies sent. */
  bytesSent = 0;
  /** How long the last write took to be answered (ms). */
  private lastWriteMs = 0;

  constructor(private readonly props: NodeReportWriterProps) {}

  write(routeName: string, entry: ReportEntry): void {
    // `since` is when the state last changed: an entry already there keeps its time while the state stays, so a
    // restarted agent (which no longer knows the time) does not rewrite every entry to move it.
    const prev = this.desired.get(routeName) ?? this.written?.get(routeName);
    const e = prev && prev.state === entry.state && prev.since ? { ...entry, since: prev.since } : entry;
    if (sameReportEntry(this.desired.get(routeName), e)) return;
    this.desired.set(routeName, e);
    this.schedule();
  }

  remove(routeName: string): void {
    if (!this.desired.delete(routeName)) return;
    this.schedule();
  }

  /** The entries as wanted now (tests, the simulation). */
  entries(): ReadonlyMap<string, ReportEntry> {
    return this.desired;
  }

  /** True when the API server holds what is wanted. */
  get settled(): boolean {
    return this.written !== undefined && !this.inFlight && reportMergePatch(Object.fromEntries(this.written), Object.fromEntries(this.desired)) === undefined;
  }

  /** Reads the report already there (an agent restarting keeps its entries until the loop says otherwise). */
  start(): void {
    this.stopped = false;
    void this.load();
  }

  stop(): void {
    this.stopped = true;
    this.props.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async load(): Promise<void> {
    try {
      const obj = (await this.props.api.getReport(this.props.nodeName)) as { status?: { routes?: Record<string, ReportEntry> } };
      const routes = obj.status?.routes ?? {};
      this.written = new Map(Object.entries(routes));
      this.exists = true;
      // Until the loop says otherwise, what is there stays (no rewrite after a restart).
      for (const [k, v] of this.written) if (!this.desired.has(k)) this.desired.set(k, v);
    } catch (err) {
      if (statusCode(err) !== 404) {
        this.retryLater('cannot read RouteReport', err, () => void this.load());
        return;
      }
      this.written = new Map();
      this.exists = false;
    }
    this.attempt = 0;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined || this.inFlight || this.written === undefined) return;
    this.timer = this.props.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.quietMs());
  }

  /**
   * The quiet time before the next write: longer for a larger report (each write stores and sends all of it), and
   * at least as long as the last write took to be answered (a busy API server is written to less often).
   */
  quietMs(): number {
    const entries = Math.max(this.desired.size, this.written?.size ?? 0);
    const base = this.props.batchMs ?? 100;
    const bySize = Math.max(base, Math.min(this.props.maxBatchMs ?? 2500, base + entries * (this.props.batchMsPerEntry ?? 2)));
    return Math.max(bySize, Math.min(this.props.maxBusyMs ?? 2000, this.lastWriteMs));
  }

  /** Drops entries of Routes that no longer exist (or were recreated): their routes are orphans the kernel prunes. */
  private prune(): void {
    if (this.pruned || !this.props.view.synced) return;
    this.pruned = true;
    for (const [name, e] of [...this.desired]) {
      const r = this.props.view.route(name);
      if (!r || (e.uid && r.metadata.uid && e.uid !== r.metadata.uid)) this.desired.delete(name);
    }
  }

  private async flush(): Promise<void> {
    if (this.stopped || this.inFlight || !this.written) return;
    this.prune();
    const after = Object.fromEntries(this.desired);
    const patch = reportMergePatch(Object.fromEntries(this.written), after);
    // A node's report exists from its agent's start, empty or not: `kubectl get routereports` lists every node.
    if (!patch && this.exists) return;
    this.inFlight = true;
    const sentMs = this.props.clock.now();
    try {
      if (this.exists && patch) {
        const body = patch;
        this.writes++;
        this.bytesSent += JSON.stringify(body).length;
        await this.props.api.patchReport(this.props.nodeName, body);
      } else {
        const body = reportObject(this.props.nodeName, this.props.view.nodeObject()?.metadata.uid, after);
        this.writes++;
        this.bytesSent += JSON.stringify(body).length;
        await this.props.api.createReport(body);
        this.exists = true;
      }
      this.written = new Map(Object.entries(after));
      this.attempt = 0;
      this.lastWriteMs = this.props.clock.now() - sentMs;
    } catch (err) {
      const code = statusCode(err);
      if (code === 404 && this.exists) {
        // Deleted under us (the Node was deleted and recreated, or by hand): create it anew with everything.
        this.exists = false;
        this.written = new Map();
      } else if (code === 409 && !this.exists) {
        // Created meanwhile (a previous run's create that timed out): read it and patch the difference.
        this.written = undefined;
        this.inFlight = false;
        void this.load();
        return;
      } else {
        this.inFlight = false;
        this.retryLater('cannot write RouteReport', err, () => void this.flush());
        return;
      }
    } finally {
      this.inFlight = false;
    }
    this.schedule();
  }

  private retryLater(what: string, err: unknown, fn: () => void): void {
    if (this.stopped) return;
    const delay = backoffDelayMs(this.attempt++, this.props.backoff ?? DEFAULT_BACKOFF, this.props.random);
    this.props.log.warn(`${what}; retrying`, { node: this.props.nodeName, attempt: this.attempt, delayMs: delay, err: describe(err) });
    this.props.clock.clearTimeout(this.timer);
    this.timer = this.props.clock.setTimeout(() => {
      this.timer = undefined;
      fn();
    }, delay);
  }
}
