/** The agent's Prometheus metrics, on a registry of its own (no global default registry). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { KROUTE_VERSION } from '../core/manifest.js';
import type { Plan } from '../core/plan/index.js';

/** Route outcomes that mean the safety rules or validation refused a Route on this node, in whole or in part. */
export const REFUSED_ROUTE_REASONS: readonly string[] = ['ProtectedDestination', 'PartiallyRefused', 'GatewayNotOnLink', 'InvalidRoute'];

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
  readonly destinationsRefused = new Gauge({
    name: 'kroute_destinations_refused', help: 'Destinations the safety rules refuse on this node now, by rule: protected_address (exactly a protected address), connected_subnet (inside a directly connected subnet).',
    labelNames: ['reason'], registers: [this.registry],
  });
  readonly routesRefused = new Gauge({
    name: 'kroute_routes_refused', help: 'Routes selecting this node refused in whole or part now, by status reason (ProtectedDestination, PartiallyRefused, GatewayNotOnLink, InvalidRoute: e.g. loopback or multicast).',
    labelNames: ['reason'], registers: [this.registry],
  });
  readonly protectedKept = new Gauge({ name: 'kroute_protected_addresses_kept', help: "Protected addresses inside Routes' destinations, kept on the node's own path by /32 (/128) keep-routes.", registers: [this.registry] });
  readonly gatewaysUnprobed = new Gauge({ name: 'kroute_gateways_unprobed', help: 'Gateways over --probe-max-gateways: not probed, assumed up.', registers: [this.registry] });
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

  /** What the plan refuses and keeps on this node, per reason (every reason always present, 0 when none). */
  setRefusals(p: Pick<Plan, 'outcomes' | 'unprobedGateways'>): void {
    const byKind = new Map<string, number>([['protected_address', 0], ['connected_subnet', 0]]);
    const byReason = new Map<string, number>(REFUSED_ROUTE_REASONS.map((r) => [r, 0]));
    let kept = 0;
    for (const o of p.outcomes) {
      for (const r of o.refused) if (r.kind) byKind.set(r.kind, (byKind.get(r.kind) ?? 0) + 1);
      if (byReason.has(o.reason)) byReason.set(o.reason, (byReason.get(o.reason) ?? 0) + 1);
      kept += o.kept.length;
    }
    for (const [reason, n] of byKind) this.destinationsRefused.set({ reason }, n);
    for (const [reason, n] of byReason) this.routesRefused.set({ reason }, n);
    this.protectedKept.set(kept);
    this.gatewaysUnprobed.set(p.unprobedGateways?.length ?? 0);
  }

  /** Sets kroute_gateway_up to exactly these gateways. */
  setGateways(health: ReadonlyMap<string, { up: boolean }>): void {
    this.gatewayUp.reset();
    for (const [g, h] of health) this.gatewayUp.set({ gateway: g }, h.up ? 1 : 0);
  }
}
