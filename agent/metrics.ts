/** The agent's Prometheus metrics, on a registry of its own (no global default registry). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry, prefix: 'kroute_process_' });
  }

  /** Sets kroute_gateway_up to exactly these gateways. */
  setGateways(health: ReadonlyMap<string, { up: boolean }>): void {
    this.gatewayUp.reset();
    for (const [g, h] of health) this.gatewayUp.set({ gateway: g }, h.up ? 1 : 0);
  }
}
