/**
 * Restart policy for informers: exponential, capped, jittered. client-node 1.x informers stop for good on any
 * error other than 410 Gone (NOTES-control-plane.md: one `error`, then silence), so the caller restarts them.
 */

/** How restarts are spaced. */
export interface BackoffPolicy {
  /** Delay before the first restart. */
  readonly initialMs: number;
  /** Upper bound of any delay (before jitter). */
  readonly maxMs: number;
  /** Growth per consecutive failure. */
  readonly factor: number;
  /** Fraction of the delay randomised away: 0.2 gives a delay in [0.8 d, d]. */
  readonly jitter: number;
}

/**
 * Defaults: 0.5 s first, doubling, capped at 30 s. A restarted API server answers /readyz about 3 s after start
 * (NOTES-control-plane.md), so the first few retries land within seconds of it coming back, and a long outage
 * costs each agent one request per 30 s: at 1000 nodes about 33 requests/s across the fleet, which the
 * jitter spreads out.
 */
export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 };

/**
 * Delay before restart number `attempt` (0 for the first restart after a failure). `random` returns [0, 1).
 * Jitter only shortens, so the cap holds.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(0, Math.floor(attempt));
  const raw = policy.initialMs * Math.pow(policy.factor, Math.min(n, 64));
  const capped = Math.min(policy.maxMs, raw);
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.round(capped * (1 - policy.jitter * r));
}

/** Timers the adapters use, injectable so tests drive time without sleeping. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  // Not unref'd: during an outage a restart timer may be the only thing keeping the agent alive.
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
