/**
 * Jest's node environment, plus a count of failed tests and hooks in the test file's global
 * (`__krouteFailures`), so a lab can print the topology it built when a test in its file failed.
 */
import { TestEnvironment } from 'jest-environment-node';
import type { Circus } from '@jest/types';

/** The name of the global that counts failures. */
export const FAILURES_GLOBAL = '__krouteFailures';

export default class LabEnvironment extends TestEnvironment {
  handleTestEvent(event: Circus.Event): void {
    if (event.name === 'test_fn_failure' || event.name === 'hook_failure') {
      const g = this.global as unknown as Record<string, number | undefined>;
      g[FAILURES_GLOBAL] = (g[FAILURES_GLOBAL] ?? 0) + 1;
    }
  }
}
