/**
 * An informer that heals itself. client-node's informer re-lists on 410 Gone by itself but stops for good on
 * any other error (a crashed or restarted API server, a refused connection): this wrapper restarts it with
 * {@link backoffDelayMs} and says whether it is connected. While it is not, the cache keeps what it last saw;
 * nothing here ever turns an error into "no objects".
 */
import type { Logger } from '../log.js';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy, type Clock } from './backoff.js';
import type { InformerEvent } from './snapshot.js';

/** The part of client-node's ListWatch this wrapper drives (so tests can drive it without an API server). */
export interface InformerLike {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: never) => void): void;
  on(verb: 'error' | 'connect', cb: (err?: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Options of {@link ResilientInformer}. */
export interface ResilientInformerProps {
  /** For logs: "routes", "node". */
  readonly name: string;
  readonly informer: InformerLike;
  /** Every add/update/delete, in order. */
  readonly onEvent: (ev: InformerEvent) => void;
  /** Called on each object before anything else sees it (e.g. to strip managed fields in place). */
  readonly transform?: (obj: unknown) => void;
  /** Connected state changes, and the first successful list (`listed`). */
  readonly onState?: () => void;
  readonly clock: Clock;
  readonly log: Logger;
  readonly policy?: BackoffPolicy;
  readonly random?: () => number;
}

/** Keeps one informer running: restarts it after errors, with capped, jittered exponential backoff. */
export class ResilientInformer {
  private connectedNow = false;
  private listedOnce = false;
  private stopped = true;
  private attempt = 0;
  private errors = 0;
  private timer: unknown;

  constructor(private readonly props: ResilientInformerProps) {
    const inf = props.informer;
    const forward = (kind: InformerEvent['kind']) => (object: never) => {
      props.transform?.(object);
      if (!this.stopped) props.onEvent({ kind, object });
    };
    inf.on('add', forward('add'));
    inf.on('update', forward('update'));
    inf.on('delete', forward('delete'));
    inf.on('error', (err) => this.failed(err));
  }

  /** True while the last (re)start succeeded and no error came since. */
  get connected(): boolean {
    return this.connectedNow;
  }

  /** True once a list has gone through (the cache holds what the API server had). */
  get listed(): boolean {
    return this.listedOnce;
  }

  /** Restarts scheduled since the last successful start (0 when healthy). */
  get failures(): number {
    return this.attempt;
  }

  /** Starts the informer; resolves after the first attempt, successful or not (failures are retried). */
  async start(): Promise<void> {
    this.stopped = false;
    await this.run();
  }

  /** Stops the informer and any pending restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.props.clock.clearTimeout(this.timer);
    this.timer = undefined;
    // A start in flight (listing) goes on to open a watch once its list returns; attemptStart sees `stopped`
    // then and stops that watch. Not awaited: a list hanging on an unreachable server must not hang stop().
    await this.props.informer.stop();
    this.setConnected(false);
  }

  private run(): Promise<void> {
    return this.attemptStart();
  }

  private async attemptStart(): Promise<void> {
    const before = this.errors;
    try {
      await this.props.informer.start();
    } catch (err) {
      // ListWatch reports failures through `error`; a throw here is unexpected, but is handled the same way.
      this.failed(err);
      return;
    }
    if (this.stopped) {
      await this.props.informer.stop();
      return;
    }
    if (this.errors === before) {
      this.attempt = 0;
      const first = !this.listedOnce;
      this.listedOnce = true;
      this.setConnected(true, first);
    }
  }

  private failed(err: unknown): void {
    if (this.stopped) return; // aborting the watch on stop() reports an AbortError: not a failure
    this.errors++;
    this.setConnected(false);
    if (this.timer !== undefined) return; // one restart pending is enough
    const delay = backoffDelayMs(this.attempt, this.props.policy ?? DEFAULT_BACKOFF, this.props.random);
    this.props.log.warn('informer failed; restarting', { informer: this.props.name, attempt: this.attempt + 1, delayMs: delay, err: describe(err) });
    this.attempt++;
    this.timer = this.props.clock.setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) void this.run();
    }, delay);
  }

  private setConnected(c: boolean, force = false): void {
    if (c === this.connectedNow && !force) return;
    this.connectedNow = c;
    if (c) this.props.log.info('informer connected', { informer: this.props.name });
    this.props.onState?.();
  }
}

/** A short description of whatever an informer reported. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown; statusCode?: unknown }).statusCode ?? (err as Error & { code?: unknown }).code;
    return code !== undefined ? `${err.message} (${String(code)})` : err.message;
  }
  return String(err);
}
