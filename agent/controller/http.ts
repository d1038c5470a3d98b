/**
 * The controller's endpoints on its health port: `/healthz` (the process answers; a leader whose Lease renewal is
 * overdue fails it, as client-go's leader-election health check does, so the kubelet restarts it), `/readyz`
 * (ready when standing by, or when leading with every informer listed) and `/metrics` (Prometheus text: leadership,
 * the write counters, the work queue, what it knows). prom-client loads only when /metrics is served.
 */
import { createServer, type Server } from 'node:http';
import type { ControllerCounts } from './controller.js';

/** What the endpoints read, at the moment of each request. */
export interface ControllerState {
  readonly leading: boolean;
  /** Set while leading: the controller's informers have listed. */
  readonly synced: boolean;
  /** Milliseconds since the leader Lease was last renewed (while leading). */
  readonly sinceRenewMs?: number;
  readonly counts?: ControllerCounts;
  readonly gauges?: { readonly routes: number; readonly reports: number; readonly liveAgents: number; readonly queued: number };
}

/** Options of {@link startControllerHttp}. */
export interface ControllerHttpProps {
  readonly port: number;
  readonly host?: string;
  readonly state: () => ControllerState;
  /** A leader not renewed for this long is unhealthy. @default 30000 (renew deadline 10 s + margin) */
  readonly unhealthyAfterMs?: number;
}

const COUNTERS: readonly [keyof ControllerCounts, string, string][] = [
  ['finalizersAdded', 'kroute_controller_finalizers_added_total', "Route finalizers added (kroute.dev/node-routes)."],
  ['finalizersReleased', 'kroute_controller_finalizers_released_total', 'Route finalizers released once no live agent reported the Route.'],
  ['summaries', 'kroute_controller_summary_writes_total', "Writes of a Route's summary (counts, Ready, nodes not done)."],
  ['failedWrites', 'kroute_controller_failed_writes_total', 'Route writes that failed (retried).'],
  ['passes', 'kroute_controller_reconciles_total', 'Routes looked at.'],
];

async function metricsText(s: ControllerState): Promise<string> {
  const { Registry, Gauge } = await import('prom-client');
  const registry = new Registry();
  const g = (name: string, help: string, value: number) => new Gauge({ name, help, registers: [registry] }).set(value);
  g('kroute_controller_leader', '1 while this replica leads.', s.leading ? 1 : 0);
  g('kroute_controller_synced', '1 while leading with every informer listed.', s.synced ? 1 : 0);
  // Counters as gauges of a running total: a new leader starts from 0 (rate() over a restart is what matters).
  for (const [k, name, help] of COUNTERS) g(name, help, s.counts?.[k] ?? 0);
  g('kroute_controller_routes', 'Routes the leader knows.', s.gauges?.routes ?? 0);
  g('kroute_controller_reports', 'RouteReports (nodes reporting) the leader knows.', s.gauges?.reports ?? 0);
  g('kroute_controller_live_agents', 'Agents whose heartbeat Lease the leader saw renewed within its duration.', s.gauges?.liveAgents ?? 0);
  g('kroute_controller_queued_routes', 'Routes waiting to be looked at.', s.gauges?.queued ?? 0);
  return registry.metrics();
}

/** Starts the endpoints; resolves with the server once it listens. */
export function startControllerHttp(props: ControllerHttpProps): Promise<Server> {
  const server = createServer((req, res) => {
    const s = props.state();
    const send = (code: number, body: string, type = 'text/plain') => res.writeHead(code, { 'content-type': type }).end(body);
    switch (req.url) {
      case '/healthz': {
        const overdue = s.leading && (s.sinceRenewMs ?? 0) > (props.unhealthyAfterMs ?? 30_000);
        return overdue ? send(500, `leader Lease not renewed for ${Math.round((s.sinceRenewMs ?? 0) / 1000)} s\n`) : send(200, 'ok\n');
      }
      case '/readyz':
        return !s.leading || s.synced ? send(200, s.leading ? 'ok: leading\n' : 'ok: standing by\n') : send(503, 'leading, informers not listed yet\n');
      case '/metrics':
        return void metricsText(s).then(
          (t) => send(200, t, 'text/plain; version=0.0.4; charset=utf-8'),
          (e: Error) => send(500, `${e.message}\n`),
        );
      default:
        return send(404, 'not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(props.port, props.host, () => resolve(server));
  });
}
