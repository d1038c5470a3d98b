/**
 * One process of the scale simulation: runs many stand-in agents (stand-in-agent.ts) and answers the driver over
 * IPC. Messages in: {start: {...}}, {stats: true}, {stop: true}; out: {started}, {stats: {...}}, {stopped}.
 */
import { jsonLogger } from '../../agent/log.js';
import { StandInAgent, type Received } from './stand-in-agent.js';

interface StartMsg {
  readonly server: string;
  readonly caFile: string;
  readonly namespace: string;
  readonly agents: readonly { readonly nodeName: string; readonly token: string }[];
}

/** What a worker reports. */
export interface WorkerStats {
  readonly agents: number;
  readonly synced: number;
  readonly events: number;
  readonly bytes: number;
  readonly reportWrites: number;
  readonly reportBytesSent: number;
  readonly renewals: number;
  readonly rssBytes: number;
}

const received: Received = { events: 0, bytes: 0 };
const agents: StandInAgent[] = [];
const log = jsonLogger('error');

function stats(): WorkerStats {
  return {
    agents: agents.length,
    synced: agents.filter((a) => a.source.synced).length,
    events: received.events,
    bytes: received.bytes,
    reportWrites: agents.reduce((s, a) => s + a.writer.writes, 0),
    reportBytesSent: agents.reduce((s, a) => s + a.writer.bytesSent, 0),
    renewals: agents.reduce((s, a) => s + a.heartbeat.renewals, 0),
    rssBytes: process.memoryUsage().rss,
  };
}

process.on('message', (m: { start?: StartMsg; stats?: boolean; stop?: boolean }) => {
  if (m.start) {
    const s = m.start;
    for (const a of s.agents) agents.push(new StandInAgent({ nodeName: a.nodeName, token: a.token, server: s.server, caFile: s.caFile, namespace: s.namespace, log, received }));
    // Started a few at a time: a thousand lists at once is a thundering herd no real rollout makes.
    void (async () => {
      for (let i = 0; i < agents.length; i += 10) await Promise.all(agents.slice(i, i + 10).map((a) => a.start()));
      process.send?.({ started: true });
    })();
  } else if (m.stats) process.send?.({ stats: stats() });
  else if (m.stop) {
    void Promise.all(agents.map((a) => a.stop())).finally(() => {
      process.send?.({ stopped: true });
      process.exit(0);
    });
  }
});
