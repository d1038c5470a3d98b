/**
 * The default-route override's safety net, as nmstate does it: right after an override is applied, the API server
 * must answer within `--override-confirm-seconds`, or the override is rolled back and the Route is told why. Once
 * confirmed, nothing is ever removed because the API server is unreachable later: the window is a confirmation, not a
 * watchdog. A rolled-back Route stays rolled back until its spec changes (or the agent restarts).
 */
import type { ControlPlane } from './ports.js';
import type { Logger } from './log.js';

/** What the guard tells the reconciler. */
export interface OverrideGuardEvents {
  confirmed(routeName: string, afterMs: number): void;
  rolledBack(routeName: string, why: string): void;
}

/** Options of the guard. */
export interface OverrideGuardProps {
  readonly controlPlane: ControlPlane;
  readonly confirmSeconds: number;
  readonly log: Logger;
  readonly events: OverrideGuardEvents;
  /** Time per reachability attempt. @default 2000 */
  readonly attemptMs?: number;
}

/** Tracks each override by Route name and spec. */
export class OverrideGuard {
  /** name → spec key confirmed. */
  private readonly confirmedKeys = new Map<string, string>();
  /** name → spec key rolled back. */
  private readonly rolledBackKeys = new Map<string, string>();
  private readonly pending = new Map<string, { key: string; cancel: () => void }>();
  private stopped = false;

  constructor(private readonly props: OverrideGuardProps) {}

  /** Names whose override is rolled back for their current spec; forgets rollbacks of Routes whose spec changed. */
  rolledBack(current: ReadonlyMap<string, string>): Set<string> {
    for (const [name, key] of [...this.rolledBackKeys]) if (current.get(name) !== key) this.rolledBackKeys.delete(name);
    return new Set(this.rolledBackKeys.keys());
  }

  /** Marks an override as confirmed without a window (found in place at start: a previous run confirmed it). */
  adopt(name: string, key: string): void {
    this.confirmedKeys.set(name, key);
  }

  /** Called after each apply with the overrides now in the kernel; starts a window for each new one. */
  applied(active: ReadonlyMap<string, string>): void {
    for (const [name, p] of [...this.pending]) {
      if (active.get(name) !== p.key) {
        p.cancel();
        this.pending.delete(name);
      }
    }
    for (const name of [...this.confirmedKeys.keys()]) if (!active.has(name) && !this.rolledBackKeys.has(name)) this.confirmedKeys.delete(name);
    for (const [name, key] of active) {
      if (this.confirmedKeys.get(name) === key || this.pending.get(name)?.key === key) continue;
      this.confirmedKeys.delete(name);
      this.window(name, key);
    }
  }

  /** True while some override waits for confirmation. */
  get waiting(): boolean {
    return this.pending.size > 0;
  }

  private window(name: string, key: string): void {
    let cancelled = false;
    let timer: NodeJS.Timeout | undefined;
    const cancel = () => {
      cancelled = true;
      if (timer) clearTimeout(timer);
    };
    this.pending.set(name, { key, cancel });
    const started = Date.now();
    const deadline = started + this.props.confirmSeconds * 1000;
    const attempt = this.props.attemptMs ?? 2000;
    const loop = async (): Promise<void> => {
      while (!cancelled && !this.stopped) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        const ok = await this.props.controlPlane.reachable(Math.min(attempt, left)).catch(() => false);
        if (cancelled || this.stopped) return;
        if (ok) {
          this.pending.delete(name);
          this.confirmedKeys.set(name, key);
          this.props.events.confirmed(name, Date.now() - started);
          return;
        }
        await new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.min(500, Math.max(0, deadline - Date.now())));
        });
      }
      if (cancelled || this.stopped) return;
      this.pending.delete(name);
      this.rolledBackKeys.set(name, key);
      this.props.events.rolledBack(name, `the API server did not answer within ${this.props.confirmSeconds}s of applying the override`);
    };
    void loop();
  }

  stop(): void {
    this.stopped = true;
    for (const p of this.pending.values()) p.cancel();
    this.pending.clear();
  }
}
