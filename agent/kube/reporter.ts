/**
 * The Kubernetes Reporter: this node's status entry, Events, and this node's finalizer. Decisions come from
 * status.ts, events.ts and finalizers.ts; this file calls the API and retries. Nothing here throws at the
 * reconciler: a failed write is logged and retried with backoff, re-decided against the cache each time.
 */
import type { RouteNodeStatus } from '../../core/index.js';
import type { Logger } from '../log.js';
import type { AgentEvent, Reporter } from '../ports.js';
import { statusCode, type KubeApi } from './api.js';
import { backoffDelayMs, type BackoffPolicy, type Clock } from './backoff.js';
import { decideEvent, DEFAULT_EVENT_POLICY, EVENT_NAMESPACE, eventKey, expireEvents, type EventPolicy, type EventRecord } from './events.js';
import { holdApplyBody, nodeFinalizer, releaseApplyBody, removeFinalizersPatch } from './finalizers.js';
import { describe } from './informer.js';
import { readRoute } from './objects.js';
import type { RouteView } from './source.js';
import { agentFieldManager, compactEntry, entryOf, nodeEntriesClearBody, nodeEntryApplyBody, sameEntry } from './status.js';

/** Options of {@link KubeReporter}. */
export interface KubeReporterProps {
  readonly api: Pick<KubeApi, 'applyRoute' | 'applyRouteStatus' | 'jsonPatchRoute' | 'getRoute' | 'createEvent' | 'patchEvent'>;
  readonly view: RouteView;
  readonly nodeName: string;
  readonly log: Logger;
  readonly clock: Clock;
  readonly backoff?: BackoffPolicy;
  readonly eventPolicy?: EventPolicy;
  readonly random?: () => number;
}

type Op = 'status' | 'hold' | 'release';

/**
 * Retries of a failed write: 0.5 s first, doubling, at most 8 s apart. Shorter than the informers' 30 s cap so
 * status catches up within seconds of the API server's return; each retry re-decides from the cache, and at most 16
 * requests are on the wire at once (agent/kube/transport.ts), so a long outage costs no storm.
 */
export const REPORT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 8000, factor: 2, jitter: 0.2 };

/** Writes this node's part of each Route; only changes are written. */
export class KubeReporter implements Reporter {
  /** What this node last wrote (or found already written) per Route; null: no entry. */
  private readonly written = new Map<string, RouteNodeStatus | null>();
  /** What the reconciler last asked for per Route; null: no entry (the Route does not select this node). */
  private readonly desired = new Map<string, RouteNodeStatus | null>();
  private events = new Map<string, EventRecord>();
  private readonly retries = new Map<string, { timer: unknown; attempt: number }>();
  private stopped = false;
  private readonly manager: string;
  /** Write requests issued so far (status, finalizer and Event calls), for tests and the benchmark. */
  writes = 0;

  constructor(private readonly props: KubeReporterProps) {
    this.manager = agentFieldManager(props.nodeName);
  }

  async status(routeName: string, status: RouteNodeStatus): Promise<void> {
    let entry = compactEntry({ ...status, nodeName: this.props.nodeName });
    // The entry already there (written by this run, or by the one before a restart) keeps its lastTransitionTime
    // while the state is the same: a restarted reconciler does not know it, and a new time alone is no news.
    const before = this.written.get(routeName) ?? entryOf(this.props.view.route(routeName), this.props.nodeName);
    if (before && before.state === entry.state && before.lastTransitionTime !== undefined) entry = { ...entry, lastTransitionTime: before.lastTransitionTime };
    this.desired.set(routeName, entry);
    await this.flushStatus(routeName);
  }

  /** Removes this node's entry, if there is one (the reason is for logging reporters; nothing is written here). */
  async clear(routeName: string, _status: RouteNodeStatus): Promise<void> {
    this.desired.set(routeName, null);
    await this.flushStatus(routeName);
  }

  async event(e: AgentEvent): Promise<void> {
    const key = eventKey(e);
    const now = this.props.clock.now();
    if (this.events.size > 1000) this.events = expireEvents(this.events, now, this.props.eventPolicy ?? DEFAULT_EVENT_POLICY);
    const prev = this.events.get(key);
    const uid = this.props.view.route(e.routeName)?.metadata.uid;
    const d = decideEvent(prev, e, { nodeName: this.props.nodeName, routeUid: uid, nowMs: now }, this.props.eventPolicy);
    this.events.set(key, d.record);
    try {
      if (d.action.kind === 'create') {
        this.writes++;
        await this.props.api.createEvent(EVENT_NAMESPACE, d.action.body);
      } else if (d.action.kind === 'patch') {
        this.writes++;
        try {
          await this.props.api.patchEvent(EVENT_NAMESPACE, d.action.name, d.action.body);
        } catch (err) {
          // Events expire (1 h by default): start a new one.
          if (statusCode(err) !== 404) throw err;
          this.events.delete(key);
          await this.event(e);
        }
      }
    } catch (err) {
      // An Event is best effort: the status entry carries the same news.
      this.props.log.warn('cannot write Event', { route: e.routeName, reason: e.reason, err: describe(err) });
    }
  }

  async hold(routeName: string): Promise<void> {
    this.cancelRetry('release', routeName);
    await this.attempt('hold', routeName, () => this.doHold(routeName));
  }

  async release(routeName: string): Promise<void> {
    this.cancelRetry('hold', routeName);
    await this.attempt('release', routeName, () => this.doRelease(routeName));
  }

  /** Forgets a Route that no longer exists (no more retries, no cached entry). */
  forget(routeName: string): void {
    this.written.delete(routeName);
    this.desired.delete(routeName);
    for (const op of ['status', 'hold', 'release'] as const) this.cancelRetry(op, routeName);
  }

  /** Accepts writes again after {@link stop}. */
  start(): void {
    this.stopped = false;
  }

  /** Cancels every pending retry; later calls do nothing until {@link start}. */
  stop(): void {
    this.stopped = true;
    for (const r of this.retries.values()) this.props.clock.clearTimeout(r.timer);
    this.retries.clear();
  }

  private async flushStatus(routeName: string): Promise<void> {
    await this.attempt('status', routeName, () => this.doStatus(routeName));
  }

  private async doStatus(routeName: string): Promise<void> {
    const entry = this.desired.get(routeName);
    if (entry === undefined) return;
    if (entry === null) return this.doClear(routeName);
    const written = this.written.get(routeName);
    if (written && sameEntry(written, entry)) return;
    const route = this.props.view.route(routeName);
    if (!route) return; // gone, or not seen yet: a status subresource apply cannot create it
    // After a restart, an entry the object already shows is not written again (N agents restarting at once
    // would otherwise rewrite N entries on every Route).
    if (!this.written.has(routeName) && sameEntry(entryOf(route, this.props.nodeName), entry)) {
      this.written.set(routeName, entry);
      return;
    }
    this.writes++;
    await this.props.api.applyRouteStatus(routeName, nodeEntryApplyBody(routeName, entry), this.manager);
    this.written.set(routeName, entry);
  }

  /**
   * Removes this node's entry, if the Route shows one: an apply of an empty `nodes` list as this node's manager
   * drops the entry it owned. Nothing is written when there is no entry, so a Route that never selected this
   * node costs no write at all.
   */
  private async doClear(routeName: string): Promise<void> {
    if (this.written.get(routeName) === null) return;
    const route = this.props.view.route(routeName);
    if (!route) return;
    if (!this.written.has(routeName) && entryOf(route, this.props.nodeName) === undefined) {
      this.written.set(routeName, null);
      return;
    }
    this.writes++;
    await this.props.api.applyRouteStatus(routeName, nodeEntriesClearBody(routeName), this.manager);
    this.written.set(routeName, null);
  }

  private async doHold(routeName: string): Promise<void> {
    const route = this.props.view.route(routeName);
    if (!route) return;
    const mine = nodeFinalizer(this.props.nodeName);
    if (route.metadata.finalizers?.includes(mine)) return;
    if (route.metadata.deletionTimestamp) {
      // The API server refuses new finalizers on an object being deleted; the kernel adapter's orphan pruning
      // covers what is left.
      this.props.log.debug('not holding a Route already being deleted', { route: routeName });
      return;
    }
    this.writes++;
    await this.props.api.applyRoute(routeName, holdApplyBody(routeName, route.metadata.uid, this.props.nodeName), this.manager);
  }

  private async doRelease(routeName: string): Promise<void> {
    const route = this.props.view.route(routeName);
    if (!route) return;
    const mine = nodeFinalizer(this.props.nodeName);
    if (!route.metadata.finalizers?.includes(mine)) return;
    this.writes++;
    const after = readRoute(await this.props.api.applyRoute(routeName, releaseApplyBody(routeName, route.metadata.uid), this.manager));
    if (!after?.metadata.finalizers?.includes(mine)) return;
    // Still there: someone else owns the same item too (an older writer, a hand edit). Remove it outright.
    for (let i = 0; i < 5; i++) {
      const current = readRoute(i === 0 ? after : await this.props.api.getRoute(routeName));
      const fins = current?.metadata.finalizers ?? [];
      if (!fins.includes(mine)) return;
      try {
        this.writes++;
        await this.props.api.jsonPatchRoute(routeName, removeFinalizersPatch(fins, [mine]));
        return;
      } catch (err) {
        const code = statusCode(err);
        if (code === 404) return;
        if (code !== 409 && code !== 422) throw err; // a failed `test` is 422: re-read and try again
      }
    }
    throw new Error(`cannot remove finalizer ${mine}: the finalizer list kept changing`);
  }

  /** Runs one write; on failure logs, and retries later with backoff (re-deciding from the cache then). */
  private async attempt(op: Op, routeName: string, fn: () => Promise<void>): Promise<void> {
    if (this.stopped) return;
    try {
      await fn();
      this.cancelRetry(op, routeName);
    } catch (err) {
      const code = statusCode(err);
      if (code === 404) {
        this.cancelRetry(op, routeName);
        return;
      }
      const key = `${op}\u0000${routeName}`;
      const prev = this.retries.get(key);
      if (prev) this.props.clock.clearTimeout(prev.timer);
      const attempt = prev ? prev.attempt + 1 : 0;
      const delay = backoffDelayMs(attempt, this.props.backoff ?? REPORT_BACKOFF, this.props.random);
      this.props.log.warn(`cannot ${op} Route; retrying`, { route: routeName, attempt: attempt + 1, delayMs: delay, err: describe(err) });
      const timer = this.props.clock.setTimeout(() => {
        const r = this.retries.get(key);
        if (!r || r.timer !== timer) return;
        void this.attempt(op, routeName, fn);
      }, delay);
      this.retries.set(key, { timer, attempt });
    }
  }

  private cancelRetry(op: Op, routeName: string): void {
    const key = `${op}\u0000${routeName}`;
    const r = this.retries.get(key);
    if (r) this.props.clock.clearTimeout(r.timer);
    this.retries.delete(key);
  }
}
