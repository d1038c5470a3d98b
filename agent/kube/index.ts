/**
 * The agent's Kubernetes face: Routes and this node in (informers that restart themselves), status entries,
 * Events and finalizers out, and the API server's addresses for the default-route override.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { AgentConfig } from '../../core/index.js';
import type { Logger } from '../log.js';
import type { KubeFace, Reporter } from '../ports.js';
import { clientNodeApi, loadKubeConfig, type KubeApi } from './api.js';
import { systemClock, type BackoffPolicy, type Clock } from './backoff.js';
import { kubeControlPlane } from './control-plane.js';
import { Housekeeping } from './housekeeping.js';
import { KubeReporter } from './reporter.js';
import { KubeRouteSource } from './source.js';
import { NodeHeartbeat } from './heartbeat.js';
import { NodeReportReporter } from './node-reporter.js';
import { clientReportApi, type ReportApi } from './report-api.js';
import { NodeReportWriter } from './report-writer.js';

export { agentFieldManager, SUMMARY_FIELD_MANAGER } from './status.js';
export { nodeFinalizer } from './finalizers.js';
export type { KubeApi } from './api.js';
export type { ReportSink } from './report-writer.js';
export { NodeReportWriter } from './report-writer.js';
export { NodeHeartbeat } from './heartbeat.js';
export type { ReportApi } from './report-api.js';

/** Options of {@link createKubeFace}. */
export interface KubeFaceProps {
  readonly config: AgentConfig;
  readonly log: Logger;
  /** A loaded kubeconfig; by default `config.kubeconfig`, or in-cluster configuration when that is empty. */
  readonly kubeConfig?: KubeConfig;
  /** Tuning for tests: debounce, backoff, housekeeping timing. Defaults suit a cluster. */
  readonly tuning?: KubeFaceTuning;
}

/** Timing knobs (tests shorten them; none is a user-facing option). */
export interface KubeFaceTuning {
  readonly debounceMs?: number;
  readonly backoff?: BackoffPolicy;
  readonly sweepSeconds?: number;
  readonly settleSeconds?: number;
  readonly stuckRecheckSeconds?: number;
  readonly notReadyGraceMs?: number;
  readonly clock?: Clock;
}

/** The KubeFace plus what tests and the agent's shutdown need. */
export interface KubeFaceHandle extends KubeFace {
  readonly source: KubeRouteSource;
  /** The KubeReporter, or with `--status-reports=node` the NodeReportReporter over `reports.writer`. */
  readonly reporter: Reporter;
  readonly housekeeping: Housekeeping;
  /** With `--status-reports=node`: this node's RouteReport writer and heartbeat Lease (docs/status.md). */
  readonly reports?: { readonly writer: NodeReportWriter; readonly heartbeat: NodeHeartbeat };
}

/**
 * Builds the Kubernetes face. Nothing talks to the API server until `source.start()`; `source.stop()` stops the
 * informers, the reporter's retries and the housekeeping timers.
 */
export async function createKubeFace(opts: { config: AgentConfig; log: Logger; kubeConfig?: KubeConfig; tuning?: KubeFaceTuning }): Promise<KubeFaceHandle> {
  const kc = opts.kubeConfig ?? loadKubeConfig(opts.config.kubeconfig);
  return kubeFaceOver(clientNodeApi(kc), { ...opts, reportApi: clientReportApi(kc) });
}

/** The face over any {@link KubeApi} (the client-node one in the agent). */
export function kubeFaceOver(api: KubeApi, opts: { config: AgentConfig; log: Logger; tuning?: KubeFaceTuning; reportApi?: ReportApi }): KubeFaceHandle {
  const nodeName = opts.config.nodeName;
  if (!nodeName) throw new Error('--node-name is required for the Kubernetes source');
  const t = opts.tuning ?? {};
  const clock = t.clock ?? systemClock;
  const log = opts.log.with({ component: 'kube' });
  const inner = new KubeRouteSource({
    nodeName,
    routeInformer: api.routeInformer(),
    nodeInformer: api.nodeInformer(nodeName),
    log,
    clock,
    ...(t.debounceMs !== undefined ? { debounceMs: t.debounceMs } : {}),
    ...(t.backoff ? { backoff: t.backoff } : {}),
  });
  const reporter = new KubeReporter({ api, view: inner, nodeName, log, clock, ...(t.backoff ? { backoff: t.backoff } : {}) });
  const housekeeping = new Housekeeping({
    api,
    view: inner,
    nodeName,
    log,
    clock,
    ...(t.sweepSeconds !== undefined ? { sweepSeconds: t.sweepSeconds } : {}),
    ...(t.settleSeconds !== undefined ? { settleSeconds: t.settleSeconds } : {}),
    ...(t.stuckRecheckSeconds !== undefined ? { stuckRecheckSeconds: t.stuckRecheckSeconds } : {}),
    ...(t.notReadyGraceMs !== undefined ? { finalizerPolicy: { notReadyGraceMs: t.notReadyGraceMs } } : {}),
  });
  if (opts.config.statusReports === 'node' && opts.reportApi) {
    // Per-node reports (docs/status.md): no entry or finalizer in any Route, no housekeeping; Events as before.
    const writer = new NodeReportWriter({ api: opts.reportApi, nodeName, view: inner, log, clock, ...(t.backoff ? { backoff: t.backoff } : {}) });
    const heartbeat = new NodeHeartbeat({ api: opts.reportApi, namespace: opts.config.leaseNamespace, nodeName, nodeUid: () => inner.nodeObject()?.metadata.uid, log, clock });
    inner.onRoutes((name) => {
      if (!inner.route(name)) writer.remove(name);
    });
    inner.attach(writer);
    inner.attach(heartbeat);
    // Report writes, renewals, Events and GETs carry deadlines; stopping the source aborts what is in flight.
    inner.attach({ start: () => undefined, stop: () => {
      opts.reportApi?.close?.();
      api.close?.();
    } });
    const nodeReporter = new NodeReportReporter(writer, inner, reporter);
    return { source: inner, reporter: nodeReporter, housekeeping, controlPlane: kubeControlPlane(api, log), reports: { writer, heartbeat } };
  }
  inner.onRoutes((name) => {
    if (!inner.route(name)) reporter.forget(name);
    housekeeping.routeChanged();
  });
  inner.attach(housekeeping);
  inner.attach(reporter);
  const endpoints = api.endpointsInformer?.();
  const controlPlane = kubeControlPlane(api, log, { clock, ...(endpoints ? { informer: endpoints } : {}), ...(t.backoff ? { backoff: t.backoff } : {}) });
  inner.attach(controlPlane);
  // The reporter's writes and the control plane's GETs carry deadlines; stopping the source aborts what is in flight.
  if (api.close) inner.attach({ start: () => undefined, stop: () => api.close?.() });
  return { source: inner, reporter, housekeeping, controlPlane };
}
