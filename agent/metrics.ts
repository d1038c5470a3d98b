/** The agent's Prometheus metrics, on a registry of its own (no global default registry). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { KROUTE_VERSION } from '../core/manifest.js';

/** The metrics the agent updates. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly routesDesired = new Gauge({ name: 'kroute_routes_desired', help: 'Routes kroute wants in the kernel (all tables, all purposes).', registers: [this.registry] });
  readonly routesApplied = new Gauge({ name: 'kroute_routes_applied', help: 'Desired routes in place after the last apply.', registers: [this.registry] });
  readonly gatewayUp = new Gauge({ name: 'kroute_gateway_up', help: '1 when the gateway answers probes, 0 when it is out of rotation.', labelNames: ['gateway'], registers: [this.registry] });
  readonly reconcileDuration = new Histogram({
    name: 'kroute_reconcile_duration_seconds', help: 'Time of one observe-plan-apply pass.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry],
  });
  readonly kernelErrors = new Counter({ name: 'kroute_kernel_errors_total', help: 'Kernel operations (routes, rules, sysctls) that failed.', registers: [this.registry] });
  /** Always 1; the labels say which build runs (the usual `<name>_build_info` shape, e.g. in alerts on mixed versions). */
  readonly buildInfo = new Gauge({
    name: 'kroute_build_info', help: 'Always 1; labels: the kroute version and the Node.js version of the running agent.',
    labelNames: ['version', 'nodejs_version'], registers: [this.registry],
  });

  constructor(defaults = true) {
    // No prefix: the standard names (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_*) that
    // dashboards and alerts expect; the job/pod labels of the scrape already say it is kroute.
    if (defaults) collectDefaultMetrics({ register: this.registry });
    this.buildInfo.set({ version: KROUTE_VERSION, nodejs_version: process.version }, 1);
  }

  /** Sets kroute_gateway_up to exactly these gateways. */
  setGateways(health: ReadonlyMap<string, { up: boolean }>): void {
    this.gatewayUp.reset();
    for (const [g, h] of health) this.gatewayUp.set({ gateway: g }, h.up ? 1 : 0);
  }
}
