/**
 * This node's RouteReport writer at its seam (agent/kube/report-writer.ts) over a recording API stand-in whose
 * answers take as long as the test says: a bulk of changes is a handful of writes, and a busy API server (slow
 * answers) is written to less often. The real API server path is test/apiserver/node-reports.test.ts.
 */
import type { ReportEntry } from '../../core/index.js';
import { silentLogger } from '../../agent/log.js';
import { NodeReportWriter } from '../../agent/kube/report-writer.js';
import { flush, ManualClock } from './manual-clock.js';

const entry = (i: number): ReportEntry => ({ uid: `u-${i}`, state: 'Applied', reason: 'Programmed', observedGeneration: 1, since: 'T0' });

function setup() {
  const clock = new ManualClock();
  /** Each write: when it was sent and what it carried; answered `latencyMs` later (on the clock). */
  const writes: { at: number; patch: Record<string, unknown> }[] = [];
  let latencyMs = 10;
  const api = {
    getReport: async () => ({ status: { routes: {} } }),
    createReport: async () => ({}),
    patchReport: (_name: string, patch: Record<string, unknown>) => {
      writes.push({ at: clock.now(), patch });
      return new Promise<unknown>((resolve) => clock.setTimeout(() => resolve({}), latencyMs));
    },
  };
  const view = { synced: true, route: (name: string) => ({ metadata: { uid: `u-${name.slice(2)}` } }), nodeObject: () => ({ metadata: { uid: 'node-uid' } }) };
  const writer = new NodeReportWriter({ api, nodeName: 'n1', view, log: silentLogger, clock });
  return { clock, writes, writer, setLatency: (ms: number) => (latencyMs = ms) };
}

describe('the RouteReport writer', () => {
  test('a thousand entries changed at once are one write', async () => {
    const t = setup();
    t.writer.start();
    await flush();
    for (let i = 0; i < 1000; i++) t.writer.write(`r-${i}`, entry(i));
    await t.clock.advance(5000);
    expect(t.writes).toHaveLength(1);
    expect(Object.keys((t.writes[0]?.patch as { status: { routes: object } }).status.routes)).toHaveLength(1000);
    expect(t.writer.settled).toBe(true);
  });

  test('a slow answer (a busy API server) spaces the next write by as long as it took, at most 2 s', async () => {
    const t = setup();
    t.writer.start();
    await flush();
    // A prompt API server: a write follows the quiet time for the report's size (100 ms + 2 ms per entry).
    t.writer.write('r-1', entry(1));
    await t.clock.advance(1000);
    t.writer.write('r-2', entry(2));
    await t.clock.advance(1000);
    expect(t.writes.map((w) => w.at)).toEqual([100, 1000 + 104]);
    // A write answered after 1.5 s: the next one waits 1.5 s after the answer, though its changes came at once.
    t.setLatency(1500);
    t.writer.write('r-3', entry(3));
    await t.clock.advance(200);
    const sent = (t.writes.at(-1) as { at: number }).at;
    t.writer.write('r-4', entry(4));
    await t.clock.advance(5000);
    expect(t.writes.map((w) => w.at).slice(-2)).toEqual([sent, sent + 1500 + 1500]);
    // Answers that take 6 s: the spacing stops at 2 s.
    t.setLatency(6000);
    t.writer.write('r-5', entry(5));
    await t.clock.advance(10_000);
    t.writer.write('r-6', entry(6));
    const before = t.writes.length;
    await t.clock.advance(1999);
    expect(t.writes).toHaveLength(before);
    await t.clock.advance(1);
    expect(t.writes).toHaveLength(before + 1);
  });
});
