/**
 * The Kubernetes RouteSource: an informer over every Route and one over this node's Node object, folded by the
 * functions of snapshot.ts, handed to the reconciler at once (optionally debounced). Only plan-relevant changes produce a
 * snapshot; every change (status writes included) reaches `onRoutes` listeners, which the reporter and the
 * housekeeping read.
 */
import type { Logger } from '../log.js';
import type { RouteSource, SourceSnapshot } from '../ports.js';
import { DEFAULT_BACKOFF, type BackoffPolicy, type Clock } from './backoff.js';
import { ResilientInformer, type InformerLike } from './informer.js';
import type { NodeObject, RouteObject } from './objects.js';
import { applyRouteEvent, buildSnapshot, foldNodeEvent, stripManagedFields, type CachedRoute } from './snapshot.js';

/** Read access to the cached Routes, for the reporter and housekeeping. */
export interface RouteView {
  route(name: string): RouteObject | undefined;
  routes(): RouteObject[];
}

/** Options of {@link KubeRouteSource}. */
export interface KubeRouteSourceProps {
  readonly nodeName: string;
  readonly routeInformer: InformerLike;
  readonly nodeInformer: InformerLike;
  readonly log: Logger;
  readonly clock: Clock;
  /**
   * Quiet time before a snapshot goes out. @default 0: a change goes out at once (the changes of one watch read
   * together, in a microtask); the reconciler gathers what arrives during a pass into the next one. A trailing 100 ms
   * here was 100 ms of a 238 ms create-to-kernel (NOTES-agent-performance.md).
   */
  readonly debounceMs?: number;
  /** Longest a pending snapshot waits under constant churn. @default 1000 */
  readonly maxDelayMs?: number;
  /**
   * With no debounce, removals (a Route marked for deletion, or gone) in a row go out at most once per this many
   * ms: the first after a quiet spell (no removal for this long) at once, those that follow gathered into one
   * snapshot at the end of the window after the last one.
   * A deletecollection marks Routes one by one, and a pass per mark spent a core of the node's CPU (and starved the
   * API server) on a thousand passes. Any other change goes out at once and takes waiting removals with it.
   * @default 200
   */
  readonly removalDelayMs?: number;
  readonly backoff?: BackoffPolicy;
  readonly random?: () => number;
}

/** Something that runs beside the source: started after it, stopped before it. */
export interface Companion {
  start(): void;
  stop(): void;
}

/** Routes and this node from the API server, with informers that restart themselves. */
export class KubeRouteSource implements RouteSource, RouteView {
  private readonly cache = new Map<string, CachedRoute>();
  private node: NodeObject | undefined;
  private readonly routesInf: ResilientInformer;
  private readonly nodeInf: ResilientInformer;
  private onChange: ((s: SourceSnapshot) => void) | undefined;
  private readonly listeners: ((name: string) => void)[] = [];
  private pending = false;
  private pendingSince = 0;
  private timer: unknown;
  /** When the last snapshot went out, and the last removal arrived (clock ms): see removalDelayMs. */
  private lastEmitAt = Number.NEGATIVE_INFINITY;
  private lastRemovalAt = Number.NEGATIVE_INFINITY;
  /** A hand-over is queued (a microtask) for the events of the current watch read. */
  private queued = false;
  private wasSynced = false;
  private warnedNoNode = false;
  private readonly companions: Companion[] = [];

  constructor(private readonly props: KubeRouteSourceProps) {
    const common = { clock: props.clock, log: props.log, policy: props.backoff ?? DEFAULT_BACKOFF, random: props.random };
    this.routesInf = new ResilientInformer({
      ...common,
      name: 'routes',
      informer: props.routeInformer,
      transform: stripManagedFields,
      onEvent: (ev) => {
        const name = nameOf(ev.object);
        if (applyRouteEvent(this.cache, ev)) this.changed(ev.kind === 'delete' || (name !== undefined && this.cache.get(name)?.route.metadata.deletionTimestamp !== undefined));
        if (name) for (const l of this.listeners) l(name);
      },
      onState: () => this.stateChanged(),
    });
    this.nodeInf = new ResilientInformer({
      ...common,
      name: 'node',
      informer: props.nodeInformer,
      onEvent: (ev) => {
        const f = foldNodeEvent(this.node, ev, props.nodeName);
        this.node = f.state;
        if (f.replan) this.changed();
        this.stateChanged();
      },
      onState: () => this.stateChanged(),
    });
  }

  /** True once both informers have listed and this node's Node object was seen. */
  get synced(): boolean {
    return this.routesInf.listed && this.nodeInf.listed && this.node !== undefined;
  }

  /** True while both informers are connected. */
  get connected(): boolean {
    return this.routesInf.connected && this.nodeInf.connected;
  }

  /** This node's Node object as last seen. */
  nodeObject(): NodeObject | undefined {
    return this.node;
  }

  route(name: string): RouteObject | undefined {
    return this.cache.get(name)?.route;
  }

  routes(): RouteObject[] {
    return [...this.cache.values()].map((c) => c.route);
  }

  /** Calls `l` with a Route's name after any change to it, status-only ones included. */
  onRoutes(l: (name: string) => void): void {
    this.listeners.push(l);
  }

  /** Runs `c` with the source (the reporter's retries, housekeeping): `stop()` stops it too. */
  attach(c: Companion): void {
    this.companions.push(c);
  }

  /** The snapshot as of now (for tests and the first emission). */
  snapshot(): SourceSnapshot {
    return buildSnapshot(this.cache, this.node, this.props.nodeName);
  }

  async start(onChange: (snapshot: SourceSnapshot) => void): Promise<void> {
    this.onChange = onChange;
    await Promise.all([this.nodeInf.start(), this.routesInf.start()]);
    for (const c of this.companions) c.start();
  }

  async stop(): Promise<void> {
    for (const c of this.companions) c.stop();
    this.onChange = undefined;
    await Promise.all([this.routesInf.stop(), this.nodeInf.stop()]);
    if (this.timer !== undefined) this.props.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private stateChanged(): void {
    if (this.routesInf.listed && this.nodeInf.listed && !this.node && !this.warnedNoNode) {
      this.warnedNoNode = true;
      this.props.log.error('no Node object named like this node; not ready until it appears', { node: this.props.nodeName });
    }
    if (this.synced && !this.wasSynced) {
      this.wasSynced = true;
      this.changed();
    }
  }

  private changed(removal = false): void {
    if (!this.onChange) return;
    const now = this.props.clock.now();
    if (!this.pending) {
      this.pending = true;
      this.pendingSince = now;
    }
    const debounce = this.props.debounceMs ?? 0;
    const window = this.props.removalDelayMs ?? 200;
    if (debounce === 0 && removal && !this.queued) {
      const quiet = now - this.lastRemovalAt >= window;
      this.lastRemovalAt = now;
      if (!quiet) {
        // Removals in a row (a deletecollection): gathered until the window after the last snapshot ends.
        if (this.timer === undefined) this.timer = this.props.clock.setTimeout(() => this.emit(), Math.max(0, this.lastEmitAt + window - now));
        return;
      }
    }
    if (this.timer !== undefined) this.props.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (debounce === 0) {
      // No debounce: out right after the events of this watch read (readline emits a read's lines in one go), in a
      // microtask: before the event loop runs anything else (a report's response, the next read), so the pass, and
      // the kernel write, come first. setTimeout(0) cost at least a millisecond; setImmediate let every other I/O
      // callback of the same turn run first.
      if (!this.queued) {
        this.queued = true;
        queueMicrotask(() => {
          this.queued = false;
          this.emit();
        });
      }
      return;
    }
    const maxDelay = this.props.maxDelayMs ?? 1000;
    const wait = Math.max(0, Math.min(debounce, this.pendingSince + maxDelay - now));
    this.timer = this.props.clock.setTimeout(() => this.emit(), wait);
  }

  private emit(): void {
    this.timer = undefined;
    // Before the first full list of both there is nothing trustworthy to say; stay pending until synced.
    if (!this.synced || !this.onChange) return;
    this.pending = false;
    this.wasSynced = true;
    this.lastEmitAt = this.props.clock.now();
    this.onChange(this.snapshot());
  }
}

function nameOf(obj: unknown): string | undefined {
  if (typeof obj !== 'object' || obj === null) return undefined;
  const m = (obj as { metadata?: { name?: unknown } }).metadata;
  return typeof m?.name === 'string' ? m.name : undefined;
}
