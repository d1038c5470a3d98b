/** Bounded concurrency (the prober: at most a few `ping` processes at once). */

/**
 * Runs `fn` for every item with at most `limit` calls in flight, and resolves when all have settled. `fn` reports its
 * own failures (the reconciler logs and retries per Route); a throw here is a bug and rejects the whole run.
 */
export async function eachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
