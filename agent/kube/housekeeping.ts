/**
 * Work no single node owns: the summary counts and Ready condition of each Route (one writer at a time), the
 * status entries of nodes that no longer exist, and the finalizers of nodes that cannot release them. Every
 * agent runs this; the pure functions say which agent acts on what (status.ts, finalizers.ts).
 */
import type { Logger } from '../log.js';
import { statusCode, type KubeApi } from './api.js';
import type { Clock } from './backoff.js';
import { DEFAULT_FINALIZER_POLICY, isNodeFinalizer, nodeFinalizer, removeFinalizersPatch, staleFinalizers, type FinalizerPolicy } from './finalizers.js';
import { describe } from './informer.js';
import { readNode, readRoute, type NodeObject, type RouteObject } from './objects.js';
import type { RouteView } from './source.js';
import { emptyRouteSummaryWriter, readyNodeNames, staleEntriesPatch, summarize, summaryApplyBody, summaryShown, summaryWriter, SUMMARY_FIELD_MANAGER } from './status.js';

/** Options of {@link Housekeeping}. */
export interface HousekeepingProps {
  readonly api: Pick<KubeApi, 'listNodes' | 'getRoute' | 'jsonPatchRoute' | 'jsonPatchRouteStatus' | 'applyRouteStatus'>;
  readonly view: RouteView;
  readonly nodeName: string;
  readonly log: Logger;
  readonly clock: Clock;
  /** Seconds between full passes (Node list refresh). @default 300 */
  readonly sweepSeconds?: number;
  /** Quiet time after a Route change before a pass; jittered up to twice this so agents do not act in step. @default 2 */
  readonly settleSeconds?: number;
  readonly finalizerPolicy?: FinalizerPolicy;
  /** Seconds between looks at a Route whose deletion waits for other nodes' finalizers. @default 10 */
  readonly stuckRecheckSeconds?: number;
  readonly random?: () => number;
}

/** Runs housekeeping passes on Route changes and on a timer. */
export class Housekeeping {
  private nodes: NodeObject[] | undefined;
  private nodesAtMs = -Infinity;
  private timer: unknown;
  private sweepTimer: unknown;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  /** API writes issued (for tests and the benchmark). */
  writes = 0;
  /** Node lists issued. */
  nodeLists = 0;

  constructor(private readonly props: HousekeepingProps) {}

  /** Starts periodic passes; the first one runs after `settleSeconds`. */
  start(): void {
    this.stopped = false;
    this.schedule();
    this.scheduleSweep();
  }

  stop(): void {
    this.stopped = true;
    this.props.clock.clearTimeout(this.timer);
    this.props.clock.clearTimeout(this.sweepTimer);
    this.timer = this.sweepTimer = undefined;
  }

  /** A Route changed (any change, status too): run a pass soon. */
  routeChanged(): void {
    if (!this.stopped && this.timer === undefined) this.schedule();
  }

  /** Runs one pass now (tests; the timers call it too). `refresh` forces a new Node list. */
  async pass(refresh = false): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.doPass(refresh).finally(() => {
      this.running = undefined;
    });
    await this.running;
    if (this.again && !this.stopped) {
      this.again = false;
      this.schedule();
    }
  }

  private schedule(): void {
    const settle = (this.props.settleSeconds ?? 2) * 1000;
    const delay = settle * (1 + (this.props.random ?? Math.random)());
    this.props.clock.clearTimeout(this.timer);
    this.timer = this.props.clock.setTimeout(() => {
      this.timer = undefined;
      void this.pass();
    }, delay);
  }

  private scheduleSweep(): void {
    const period = (this.props.sweepSeconds ?? 300) * 1000;
    const delay = period * (0.75 + 0.5 * (this.props.random ?? Math.random)());
    this.sweepTimer = this.props.clock.setTimeout(() => {
      if (this.stopped) return;
      void this.pass(true).finally(() => {
        if (!this.stopped) this.scheduleSweep();
      });
    }, delay);
  }

  private async nodeList(maxAgeMs: number): Promise<NodeObject[] | undefined> {
    if (this.nodes && this.props.clock.now() - this.nodesAtMs <= maxAgeMs) return this.nodes;
    try {
      this.nodeLists++;
      const items = await this.props.api.listNodes();
      this.nodes = items.map(readNode).filter((n): n is NodeObject => n !== undefined);
      this.nodesAtMs = this.props.clock.now();
      return this.nodes;
    } catch (err) {
      this.props.log.warn('cannot list Nodes; housekeeping waits for the next pass', { err: describe(err) });
      return undefined;
    }
  }

  private async doPass(refresh: boolean): Promise<void> {
    const routes = this.props.view.routes();
    const mine = nodeFinalizer(this.props.nodeName);
    // Foreign per-node finalizers left on a Route being deleted: their nodes may be gone. Needs a fresh list.
    const stuck = routes.filter((r) => r.metadata.deletionTimestamp && (r.metadata.finalizers ?? []).some((f) => isNodeFinalizer(f) && f !== mine));
    const period = (this.props.sweepSeconds ?? 300) * 1000;
    // A deletion held up by other nodes' finalizers needs a recent list (a Node may have just been deleted);
    // one a second old is recent enough, so Route churn does not become a Node list per event.
    const nodes = await this.nodeList(refresh ? 0 : stuck.length ? 1000 : period);
    if (!nodes) return;
    const existing = new Set(nodes.map((n) => n.metadata.name));
    const ready = readyNodeNames(nodes);
    let recheck: number | undefined;
    for (const r of stuck) {
      const next = await this.cleanFinalizers(r, nodes);
      // Held by live nodes: they normally release within a second, but one may go away meanwhile: look again.
      recheck = Math.min(recheck ?? Infinity, next ?? (this.props.stuckRecheckSeconds ?? 10) * 1000);
    }
    for (const r of routes) {
      if (r.metadata.deletionTimestamp) continue;
      if ((summaryWriter(r, ready) ?? emptyRouteSummaryWriter(r, ready)) !== this.props.nodeName) continue;
      await this.summarizeRoute(r, existing);
    }
    if (recheck !== undefined && !this.stopped) {
      this.props.clock.clearTimeout(this.timer);
      this.timer = this.props.clock.setTimeout(() => {
        this.timer = undefined;
        void this.pass(true);
      }, recheck + 100);
    }
  }

  /** Removes finalizers of nodes that cannot release them; returns when to look again, if a node is in grace. */
  private async cleanFinalizers(route: RouteObject, nodes: readonly NodeObject[]): Promise<number | undefined> {
    const name = route.metadata.name;
    let current: RouteObject | undefined = route;
    for (let i = 0; i < 5 && current; i++) {
      const verdict = staleFinalizers(current.metadata.finalizers ?? [], nodes, this.props.clock.now(), this.props.finalizerPolicy ?? DEFAULT_FINALIZER_POLICY);
      if (!verdict.stale.length) return verdict.recheckInMs;
      try {
        this.writes++;
        await this.props.api.jsonPatchRoute(name, removeFinalizersPatch(current.metadata.finalizers ?? [], verdict.stale.map((s) => s.finalizer)));
        this.props.log.info('removed finalizers of nodes that cannot release them', { route: name, removed: verdict.stale });
        return verdict.recheckInMs;
      } catch (err) {
        const code = statusCode(err);
        if (code === 404) return undefined;
        if (code !== 409 && code !== 422) {
          this.props.log.warn('cannot remove stale finalizers', { route: name, err: describe(err) });
          return undefined;
        }
        // Another agent changed the list first: read it again and recompute.
        try {
          current = readRoute(await this.props.api.getRoute(name));
        } catch (e) {
          if (statusCode(e) !== 404) this.props.log.warn('cannot read Route', { route: name, err: describe(e) });
          return undefined;
        }
      }
    }
    return undefined;
  }

  private async summarizeRoute(route: RouteObject, existing: ReadonlySet<string>): Promise<void> {
    const name = route.metadata.name;
    try {
      const stale = staleEntriesPatch(route, existing);
      if (stale.length) {
        this.writes++;
        await this.props.api.jsonPatchRouteStatus(name, stale);
        this.props.log.info('removed status entries of nodes that no longer exist', { route: name, entries: stale.length / 2 });
        return; // the watch brings the new object, and with it the next pass
      }
      const s = summarize(route, new Date(this.props.clock.now()).toISOString());
      if (summaryShown(route, s)) return;
      this.writes++;
      await this.props.api.applyRouteStatus(name, summaryApplyBody(name, s), SUMMARY_FIELD_MANAGER);
    } catch (err) {
      // The next Route change or sweep tries again.
      if (statusCode(err) !== 404) this.props.log.warn('cannot write Route summary', { route: name, err: describe(err) });
    }
  }
}
