/**
 * The reporting loop's hand-off from the dataplane (no kernel, no API server: a reporter that records its calls):
 * the newest report per Route wins, and no write starts while the dataplane has a pass due or running, until it
 * resumes the loop, or MAX_YIELD_MS have passed for a dataplane that never rests.
 */
import type { RouteNodeStatus } from '../../core/index.js';
import { silentLogger } from '../../agent/log.js';
import type { AgentEvent, Reporter } from '../../agent/ports.js';
import { MAX_YIELD_MS, ReportingLoop } from '../../agent/reporting.js';
import { until } from '../lab/wait.js';

class RecordingReporter implements Reporter {
  readonly calls: string[] = [];
  async status(name: string, s: RouteNodeStatus): Promise<void> {
    this.calls.push(`status ${name} ${s.state}`);
  }
  async clear(name: string): Promise<void> {
    this.calls.push(`clear ${name}`);
  }
  async event(e: AgentEvent): Promise<void> {
    this.calls.push(`event ${e.routeName} ${e.reason}`);
  }
  async hold(name: string): Promise<void> {
    this.calls.push(`hold ${name}`);
  }
  async release(name: string): Promise<void> {
    this.calls.push(`release ${name}`);
  }
}

const status = (state: RouteNodeStatus['state']): RouteNodeStatus => ({ nodeName: 'n1', state, reason: 'Programmed', message: 'm' });

describe('reporting loop', () => {
  it('starts no write while the dataplane is busy, then writes the newest report of each Route once resumed', async () => {
    const reporter = new RecordingReporter();
    let busy = true;
    const loop = new ReportingLoop({ reporter, log: silentLogger, busy: () => busy });
    try {
      loop.publish('a', { status: status('Degraded'), hold: true, release: false });
      loop.publish('a', { status: status('Applied'), hold: true, release: false });
      loop.event({ routeName: 'a', type: 'Normal', reason: 'GatewayUp', message: 'up' });
      await new Promise((r) => setImmediate(r));
      expect(reporter.calls).toEqual([]);
      busy = false;
      loop.resume();
      await loop.idle();
      expect(reporter.calls).toEqual(['hold a', 'status a Applied', 'event a GatewayUp']);
    } finally {
      loop.stop();
    }
  });

  it('a dataplane that never rests delays the writes by at most MAX_YIELD_MS, not forever', async () => {
    const reporter = new RecordingReporter();
    const loop = new ReportingLoop({ reporter, log: silentLogger, busy: () => true });
    try {
      const t = performance.now();
      loop.publish('a', { status: status('Applied'), hold: true, release: false });
      await until('the held-back writes', 5000, () => (reporter.calls.length === 2 ? true : undefined), 5);
      expect(performance.now() - t).toBeGreaterThanOrEqual(MAX_YIELD_MS - 5);
      expect(reporter.calls).toEqual(['hold a', 'status a Applied']);
    } finally {
      loop.stop();
    }
  });
});
