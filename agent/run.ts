/**
 * Wires the agent together: a face (file source and log reporter, or the Kubernetes face), the kernel adapter, the
 * prober, the monitor, the reconciler and the HTTP endpoints. `stop()` stops every timer, watcher and child and
 * leaves the kernel as it is.
 */
import type { AgentConfig } from '../core/index.js';
import { planConfigOf } from '../core/plan/index.js';
import { AddressControlPlane } from './file-control-plane.js';
import { FileSource } from './file-source.js';
import { DryRunKernel, DryRunSysctls } from './dry-run.js';
import { HostDiscovery } from './host.js';
import { AgentHttp } from './http.js';
import { IprouteKernel } from './kernel/iproute.js';
import { RouteMonitor } from './kernel/monitor.js';
import { SysctlWriter } from './kernel/sysctl.js';
import type { Logger } from './log.js';
import { LogReporter } from './log-reporter.js';
import type { KubeFace } from './ports.js';
import { Prober } from './prober.js';
import { Reconciler } from './reconciler.js';

/** A running agent. */
export interface RunningAgent {
  readonly reconciler: Reconciler;
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

async function face(config: AgentConfig, log: Logger): Promise<KubeFace> {
  if (config.routes) {
    return {
      source: new FileSource({ path: config.routes, nodeName: config.nodeName, nodeLabels: config.nodeLabels, log: log.with({ component: 'file-source' }) }),
      reporter: new LogReporter(log.with({ component: 'status' })),
      controlPlane: new AddressControlPlane(config.controlPlaneAddresses),
    };
  }
  // --dry-run: the same face over an API whose writes are logged and dropped (agent/dry-run-kube.ts).
  if (config.dryRun) return (await import('./dry-run-kube.js')).dryRunKubeFace(config, log);
  let mod: { createKubeFace(opts: { config: AgentConfig; log: Logger }): Promise<KubeFace> };
  try {
    mod = await import('./kube/index.js');
  } catch (e) {
    throw new Error(`the Kubernetes source (agent/kube) cannot be loaded: ${(e as Error).message}; use --routes for file mode`);
  }
  return mod.createKubeFace({ config, log });
}

/** Starts the agent with a parsed configuration. */
export async function runAgent(config: AgentConfig, log: Logger): Promise<RunningAgent> {
  // prom-client and what it loads (@opentelemetry/api, tdigest) cost ~11 MB of resident memory: load them only
  // when /metrics is served (--metrics-port 0 turns it off).
  const metrics = config.metricsPort ? new (await import('./metrics.js')).AgentMetrics() : undefined;
  const { source, reporter, controlPlane } = await face(config, log);
  // One ownership value (protocol, tables, marks, priorities) for the planner and every kernel-facing adapter.
  const { ownership } = planConfigOf(config);
  const iproute = new IprouteKernel({ ownership });
  const dry = config.dryRun ? log.with({ component: 'dry-run' }) : undefined;
  const kernel = dry ? new DryRunKernel(iproute, ownership, dry) : iproute;
  const later: { reconciler?: Reconciler } = {};
  const prober = new Prober({
    intervalMs: config.probeIntervalSeconds * 1000,
    timeoutMs: config.probeTimeoutSeconds * 1000,
    fall: config.probeFallCount,
    rise: config.probeRiseCount,
    log: log.with({ component: 'prober' }),
    forwardProber: config.forwardProber,
    onChange: (_down, changed) => later.reconciler?.gatewaysChanged(changed),
  });
  const rec = new Reconciler({
    config,
    source,
    reporter,
    controlPlane,
    kernel,
    sysctls: dry ? new DryRunSysctls(config.sysctlRoot, dry) : new SysctlWriter(config.sysctlRoot),
    host: new HostDiscovery({ ownership, publicInterface: config.publicInterface, resolvConf: config.resolvConf }),
    prober,
    log,
    metrics,
  });
  later.reconciler = rec;
  const monitor = new RouteMonitor({ ownership, log: log.with({ component: 'monitor' }), onChange: (line, stale) => rec.kernelChanged(line, stale) });
  const http = new AgentHttp({
    bindAddress: config.bindAddress,
    metricsBindAddress: config.metricsBindAddress,
    healthPort: config.healthPort,
    metricsPort: config.metricsPort,
    ready: () => source.synced && rec.applied,
    ...(metrics ? { registry: metrics.registry } : {}),
  });
  const ports = await http.start();
  monitor.start();
  await rec.start();
  log.info('agent started', {
    node: config.nodeName,
    mode: config.routes ? 'file' : 'kubernetes',
    dryRun: config.dryRun || undefined,
    routes: config.routes || undefined,
    protocol: config.routeProtocol,
    ports,
  });
  return {
    reconciler: rec,
    ports,
    async stop() {
      // The reconciler first: it drops queued reports and aborts API calls in flight, so nothing below waits on them.
      await Promise.all([rec.stop(), http.stop(), monitor.stop()]);
    },
  };
}
