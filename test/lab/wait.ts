/**
 * The one wait of the tests: poll a condition until it holds or a deadline passes. No sleeps: a test waits for what
 * it needs to see, and a timeout says what it waited for and the last reason it was not there.
 */

/** What a check returns: a value when the condition holds; `undefined` or `false` when it does not yet. */
export type Check<T> = () => Promise<T | undefined | false> | T | undefined | false;

/**
 * Polls `check` every `pollMs` until it returns something other than `undefined` or `false`, and returns that.
 * A check that throws counts as "not yet" and its message is the reason given when the deadline passes.
 */
export async function until<T>(what: string, deadlineMs: number, check: Check<T>, pollMs = 50): Promise<T> {
  const end = Date.now() + deadlineMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, pollMs);
      t.unref?.();
    });
  }
}
