/**
 * kroute's controller (docs/status.md): the one writer of each Route's summary and the holder of its one finalizer.
 * It watches Routes, the nodes' RouteReports, the agents' heartbeat Leases and Nodes, and decides with the pure
 * functions of core/route-report.ts. Writes are coalesced: a Route changed many times between two passes is
 * looked at once, and only what differs from what it shows is written, at most `writesInFlight` at a time.
 */
import {
  agentLive, CONTROLLER_FIELD_MANAGER, entriesFor, finalizerAction, finalizerApplyBody, finalizerRemovePatch,
  sameReportEntry, summarizeRoute, summaryApplyBody, summaryShown, type NodeLiveness, type RouteFacts, type RouteReport, type RouteSummary,
} from '../../core/index.js';
import type { Logger } from '../log.js';
import { statusCode } from '../kube/api.js';
import { DEFAULT_BACKOFF, type Clock } from '../kube/backoff.js';
import { describe, ResilientInformer } from '../kube/informer.js';
import type { InformerEvent } from '../kube/snapshot.js';
import type { ControllerApi } from './api.js';
import { heartbeatOf, objectName, reportOf, routeFactsOf } from './objects.js';

/** Options of {@link RouteController}. */
export interface RouteControllerProps {
  readonly api: ControllerApi;
  /** Namespace of the agents' heartbeat Leases. */
  readonly namespace: string;
  readonly log: Logger;
  readonly clock: Clock;
  /** Writes in flight at most. @default 16 */
  readonly writesInFlight?: number;
  /** How often heartbeats are checked for agents that stopped renewing. @default 2000 */
  readonly livenessSweepMs?: number;
  /** A new Route that no node reports yet is called NoNodes only after this long. @default 10000 */
  readonly noNodesGraceMs?: number;
  /**
   * A summary is written once the Route's entries have been quiet this long (a rollout's Progressing and Applied
   * become one write when nodes report within it), but no later than `summaryMaxDelayMs` after the first change.
   * @default 1000
   */
  readonly summarySettleMs?: number;
  /** @default 5000 */
  readonly summaryMaxDelayMs?: number;
  /**
   * More of that longest delay per live agent, up to `summaryMaxDelayCapMs`: every summary write is one watch event
   * to every agent, so the more agents, the less often an unfinished rollout's progress is written (the final one
   * still follows its last change by `summarySettleMs`). 100 agents: 10 s; 300: 30 s; 1,000: 60 s. @default 100
   */
  readonly summaryMaxDelayMsPerAgent?: number;
  /** @default 60000 */
  readonly summaryMaxDelayCapMs?: number;
}

/** What the controller did, for tests, logs and the scale simulation. */
export interface ControllerCounts {
  finalizersAdded: number;
  finalizersReleased: number;
  summaries: number;
  failedWrites: number;
  /** Routes looked at (one reconcile each). */
  passes: number;
}

function summaryKey(s: RouteSummary): string {
  return JSON.stringify([s.appliedNodes, s.selectedNodes, s.ready.status, s.ready.reason, s.ready.message, s.ready.observedGeneration, s.nodes]);
}

/** The controller; `start()` when leading, `stop()` when not. */
export class RouteController {
  private readonly routes = new Map<string, RouteFacts>();
  private readonly reports = new Map<string, RouteReport>();
  /** Route name → nodes whose report has an entry of that name. */
  private readonly byRoute = new Map<string, Set<string>>();
  /** Node → its heartbeat as last seen changing, on this controller's clock. */
  private readonly heartbeats = new Map<string, { rv: string; seenMs: number; durationSeconds: number }>();
  private readonly nodes = new Set<string>();
  private readonly wasLive = new Map<string, boolean>();
  private liveCount = 0;
  private readonly dirty = new Set<string>();
  /** What this controller last wrote as each Route's summary. */
  private readonly written = new Map<string, string>();
  /** Route name → when its entries first and last changed since its summary was last written. */
  private readonly changed = new Map<string, { first: number; last: number }>();
  private readonly informers: ResilientInformer[];
  private readonly timers = new Set<unknown>();
  private readonly active = new Set<string>();
  private pumpTimer: unknown;
  private sweepTimer: unknown;
  private stopped = true;
  private startedMs = 0;
  readonly counts: ControllerCounts = { finalizersAdded: 0, finalizersReleased: 0, summaries: 0, failedWrites: 0, passes: 0 };

  constructor(private readonly props: RouteControllerProps) {
    const common = { clock: props.clock, log: props.log, policy: DEFAULT_BACKOFF };
    const mk = (name: string, informer: ReturnType<ControllerApi['routeInformer']>, onEvent: (ev: InformerEvent) => void) =>
      new ResilientInformer({ ...common, name, informer, onEvent: (ev) => !this.stopped && onEvent(ev), onState: () => this.markAllIfSynced() });
    this.informers = [
      mk('routes', props.api.routeInformer(), (ev) => this.routeEvent(ev)),
      mk('reports', props.api.reportInformer(), (ev) => this.reportEvent(ev)),
      mk('heartbeats', props.api.heartbeatInformer(props.namespace), (ev) => this.heartbeatEvent(ev)),
      mk('nodes', props.api.nodeInformer(), (ev) => this.nodeEvent(ev)),
    ];
  }

  /** True once every informer has listed. */
  get synced(): boolean {
    return this.informers.every((i) => i.listed);
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.startedMs = this.props.clock.now();
    await Promise.all(this.informers.map((i) => i.start()));
    this.sweep();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of [this.pumpTimer, this.sweepTimer, ...this.timers]) this.props.clock.clearTimeout(t);
    this.timers.clear();
    this.pumpTimer = this.sweepTimer = undefined;
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  /** Sizes for /metrics. */
  gauges(): { routes: number; reports: number; liveAgents: number; queued: number } {
    return { routes: this.routes.size, reports: this.reports.size, liveAgents: this.liveCount, queued: this.dirty.size };
  }

  /** What is known of a node now. */
  liveness(nodeName: string): NodeLiveness {
    const exists = this.nodes.has(nodeName);
    const hb = this.heartbeats.get(nodeName);
    const live = exists && agentLive(hb?.seenMs, hb?.durationSeconds ?? 40, this.props.clock.now());
    return { exists, live, ...(live && hb ? { expiresAtMs: hb.seenMs + hb.durationSeconds * 1000 } : {}) };
  }

  /** The Route's summary as the controller would write it now (tests). */
  summaryOf(name: string): RouteSummary | undefined {
    const r = this.routes.get(name);
    return r ? summarizeRoute(r, this.entries(r), new Date(this.props.clock.now()).toISOString()) : undefined;
  }

  private entries(r: RouteFacts) {
    const reports = [...(this.byRoute.get(r.name) ?? [])].map((n) => this.reports.get(n)).filter((x): x is RouteReport => x !== undefined);
    return entriesFor(r, reports, (n) => this.liveness(n));
  }

  private markAllIfSynced(): void {
    if (!this.synced) return;
    for (const n of this.routes.keys()) this.dirty.add(n);
    this.kick();
  }

  private markDirty(name: string): void {
    this.dirty.add(name);
    this.kick();
  }

  private markNode(node: string): void {
    for (const [route, nodes] of this.byRoute) if (nodes.has(node)) this.dirty.add(route);
    this.kick();
  }

  private routeEvent(ev: InformerEvent): void {
    const name = objectName(ev.object);
    if (!name) return;
    if (ev.kind === 'delete') {
      this.routes.delete(name);
      this.written.delete(name);
      this.changed.delete(name);
      this.dirty.delete(name);
      return;
    }
    const r = routeFactsOf(ev.object);
    if (!r) return;
    this.routes.set(name, r);
    this.markDirty(name);
  }

  private reportEvent(ev: InformerEvent): void {
    const node = objectName(ev.object);
    if (!node) return;
    const before = this.reports.get(node)?.routes ?? {};
    const next = ev.kind === 'delete' ? undefined : reportOf(ev.object);
    const after = next?.routes ?? {};
    if (next) this.reports.set(node, next);
    else this.reports.delete(node);
    for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (sameReportEntry(before[k], after[k])) continue;
      const now = this.props.clock.now();
      this.changed.set(k, { first: this.changed.get(k)?.first ?? now, last: now });
      const set = this.byRoute.get(k) ?? new Set<string>();
      if (after[k]) set.add(node);
      else set.delete(node);
      if (set.size) this.byRoute.set(k, set);
      else this.byRoute.delete(k);
      this.dirty.add(k);
    }
    this.kick();
  }

  private heartbeatEvent(ev: InformerEvent): void {
    const hb = heartbeatOf(ev.object);
    if (!hb) return;
    if (ev.kind === 'delete') this.heartbeats.delete(hb.node);
    else if (this.heartbeats.get(hb.node)?.rv !== hb.rv) {
      // A Lease listed when the controller starts counts as renewed now: its agent gets one full duration.
      this.heartbeats.set(hb.node, { rv: hb.rv, seenMs: this.props.clock.now(), durationSeconds: hb.durationSeconds });
    }
    this.checkLiveness(hb.node);
  }

  private nodeEvent(ev: InformerEvent): void {
    const name = objectName(ev.object);
    if (!name) return;
    if (ev.kind === 'delete') this.nodes.delete(name);
    else if (this.nodes.has(name)) return;
    else this.nodes.add(name);
    this.checkLiveness(name);
  }

  private checkLiveness(node: string): void {
    const live = this.liveness(node).live;
    const was = this.wasLive.get(node);
    if (was === live) return;
    this.liveCount += (live ? 1 : 0) - (was ? 1 : 0);
    this.wasLive.set(node, live);
    if (!live) this.props.log.info('agent not live', { node, heartbeat: this.heartbeats.has(node), nodeExists: this.nodes.has(node) });
    this.markNode(node);
  }

  /** Agents that stopped renewing turn dead without any event: look every couple of seconds. */
  private sweep(): void {
    if (this.stopped) return;
    for (const node of new Set([...this.heartbeats.keys(), ...this.wasLive.keys()])) this.checkLiveness(node);
    this.sweepTimer = this.props.clock.setTimeout(() => this.sweep(), this.props.livenessSweepMs ?? 2000);
  }

  private kick(): void {
    if (this.stopped || this.pumpTimer !== undefined || !this.synced || !this.dirty.size) return;
    // A few ms gather a burst of events (a report write touches many Routes at once) before work starts.
    this.pumpTimer = this.props.clock.setTimeout(() => {
      this.pumpTimer = undefined;
      this.fill();
    }, 20);
  }

  /**
   * Keeps up to `writesInFlight` Routes being reconciled, oldest change first, never one Route twice at once. No
   * pass barrier: a Route that changes while a thousand others are being written waits only for a free worker.
   */
  private fill(): void {
    const limit = this.props.writesInFlight ?? 16;
    if (this.stopped) return;
    for (const name of this.dirty) {
      if (this.active.size >= limit) break;
      if (this.active.has(name)) continue; // changed again while being reconciled: after this one
      this.dirty.delete(name);
      this.active.add(name);
      this.counts.passes++;
      void this.reconcile(name).finally(() => {
        this.active.delete(name);
        this.fill();
      });
    }
  }

  private later(ms: number, fn: () => void): void {
    const t = this.props.clock.setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private async reconcile(name: string): Promise<void> {
    const r = this.routes.get(name);
    if (!r) return;
    const { api, log } = this.props;
    const entries = this.entries(r);
    const act = finalizerAction(r, entries);
    try {
      if (act.kind === 'add') {
        this.counts.finalizersAdded++;
        await api.applyRoute(name, finalizerApplyBody(name, r.uid), CONTROLLER_FIELD_MANAGER);
      } else if (act.kind === 'release') {
        this.counts.finalizersReleased++;
        await api.jsonPatchRoute(name, finalizerRemovePatch(r.finalizers));
        const skipped = act.skipped;
        if (skipped.length) log.info('released a deleted Route without waiting for agents that are not live', { route: name, nodes: skipped.slice(0, 20), count: skipped.length });
        return;
      }
    } catch (err) {
      this.failed(name, 'finalizer', err);
      return;
    }
    if (r.deleting) return;
    const now = this.props.clock.now();
    const grace = this.props.noNodesGraceMs ?? 10_000;
    const since = Math.max(r.createdMs ?? 0, this.startedMs);
    if (!entries.length && now - since < grace) {
      // Nodes report within a second or two of a new Route: NoNodes now would only be overwritten.
      this.later(since + grace - now + 50, () => this.markDirty(name));
      return;
    }
    const ch = this.changed.get(name);
    if (ch) {
      const perAgent = Math.min(this.props.summaryMaxDelayCapMs ?? 60_000, this.liveCount * (this.props.summaryMaxDelayMsPerAgent ?? 100));
      const maxDelay = Math.max(this.props.summaryMaxDelayMs ?? 5000, perAgent);
      const due = Math.min(ch.last + (this.props.summarySettleMs ?? 1000), ch.first + maxDelay);
      if (now < due) {
        this.later(due - now + 10, () => this.markDirty(name));
        return;
      }
    }
    const s = summarizeRoute(r, entries, new Date(now).toISOString());
    const key = summaryKey(s);
    const last = this.written.get(name);
    if (last === key || (last === undefined && summaryShown(r, s) && s.nodes.length === 0)) {
      this.written.set(name, key);
      this.changed.delete(name);
      return;
    }
    try {
      this.counts.summaries++;
      await api.applyRouteStatus(name, summaryApplyBody(name, s), CONTROLLER_FIELD_MANAGER);
      this.written.set(name, key);
      if (this.changed.get(name) === ch) this.changed.delete(name);
    } catch (err) {
      this.failed(name, 'summary', err);
    }
  }

  private failed(name: string, what: string, err: unknown): void {
    const code = statusCode(err);
    if (code === 404) return;
    this.counts.failedWrites++;
    // 409/422: the object changed (a failed `test`, a recreated namesake): its next event brings the new one.
    if (code !== 409 && code !== 422) this.props.log.warn(`cannot write Route ${what}; retrying`, { route: name, err: describe(err) });
    this.later(1000, () => this.markDirty(name));
  }
}
