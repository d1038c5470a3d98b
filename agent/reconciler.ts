/**
 * The dataplane loop: observe (source snapshot, cached host facts and control-plane addresses, gateway health) →
 * plan (pure) → apply (kernel port) → publish the outcome per Route to the reporting loop (./reporting.ts), as a
 * value. Nothing on this path awaits the API server: a failover reaches the kernel in the same time whether the API
 * server answers, refuses or hangs. One pass at a time; a trigger while idle runs at once, triggers during a pass
 * are gathered into the next one. Triggers: a source change, a gateway going down or up, a kernel or host change
 * (ip monitor), an override rollback, new control-plane addresses, and a periodic full resync.
 */
import type { AgentConfig } from '../core/index.js';
import { plan, planConfigOf, PlanMemo, type HostFacts, type Plan, type PlanConfig, type PlanRouteInput } from '../core/plan/index.js';
import type { KernelPort } from './kernel/port.js';
import type { SysctlResult } from './kernel/sysctl.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import { OverrideGuard } from './override-guard.js';
import type { ControlPlane, Reporter, RouteSource, SourceSnapshot } from './ports.js';
import type { Prober } from './prober.js';
import { ReportPublisher } from './report-publisher.js';
import { ReportingLoop } from './reporting.js';
import { RouteValidations } from './route-validations.js';

/** The host facts the planner needs, cached by the adapter until something changes. */
export interface HostFactsPort {
  discover(extra: { controlPlaneAddresses: readonly string[]; keepAddresses: readonly string[] }): Promise<HostFacts>;
  /** Drops cached facts (periodic resync; the route monitor saw a change). */
  invalidate?(): void;
}

/** What the reconciler drives. */
export interface ReconcilerProps {
  readonly config: AgentConfig;
  readonly source: RouteSource;
  readonly reporter: Reporter;
  readonly controlPlane: ControlPlane;
  readonly kernel: KernelPort;
  readonly sysctls: { apply(wanted: Plan['sysctls']): Promise<SysctlResult[]> };
  readonly host: HostFactsPort;
  readonly prober: Pick<Prober, 'setTargets' | 'down' | 'snapshot' | 'start' | 'stop'>;
  readonly log: Logger;
  readonly metrics?: AgentMetrics;
  /** Retry delay after a pass failed as a whole. @default 5000 */
  readonly retryMs?: number;
  /** Longest the first pass waits for the control-plane addresses (startup only). @default 2000 */
  readonly controlPlaneWaitMs?: number;
}

/** The observe → plan → apply loop. */
export class Reconciler {
  private snapshot?: SourceSnapshot;
  private resync?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private scheduled?: NodeJS.Immediate;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private first = true;
  /** Set by the periodic resync: re-read host facts, kernel and sysctls, and republish every Route once. */
  private full = true;
  private controlPlaneAddresses: readonly string[] = [];
  private controlPlaneKnown?: Promise<void>;
  /** The planner's part of the configuration, ownership as one value (core/plan/ownership.ts). */
  private readonly planConfig: PlanConfig;
  private readonly guard: OverrideGuard;
  private readonly reporting: ReportingLoop;
  private readonly publisher: ReportPublisher;
  private lastPlan?: Plan;
  /** Each Route's own plan, reused while nothing it depends on changed (plan only what changed). */
  private readonly planMemo = new PlanMemo();
  /** Each Route validated once per generation. */
  private readonly validations = new RouteValidations();
  /** Problems logged by the last pass (source and plan), so each is logged once when it appears. */
  private loggedProblems = new Set<string>();
  /** True once a plan has been applied (readiness). */
  applied = false;
  /** Passes completed (tests wait on it). */
  passes = 0;

  constructor(private readonly props: ReconcilerProps) {
    this.planConfig = planConfigOf(props.config);
    // The reporting loop yields to this one: it starts no write while a pass is due or running (./reporting.ts).
    this.reporting = new ReportingLoop({ reporter: props.reporter, log: props.log.with({ component: 'reporting' }), busy: () => this.busy });
    this.publisher = new ReportPublisher({ reporting: this.reporting, log: props.log, metrics: props.metrics });
    this.guard = new OverrideGuard({
      controlPlane: props.controlPlane,
      confirmSeconds: props.config.overrideConfirmSeconds,
      log: props.log,
      events: {
        confirmed: (name, ms) => {
          props.log.info('override confirmed: the API server answers', { route: name, afterMs: ms });
          this.publisher.event(name, 'Normal', 'OverrideApplied', `default-route override applied and confirmed: the API server answered after ${ms} ms`);
        },
        rolledBack: (name, why) => {
          props.log.warn('override rolled back', { route: name, why });
          this.publisher.event(name, 'Warning', 'OverrideRolledBack', `default-route override rolled back: ${why}`);
          this.trigger('override rolled back');
        },
      },
    });
  }

  /** Validations run so far (tests check a pass reuses them). */
  get validationsRun(): number {
    return this.validations.runs;
  }

  /** True while an applied override waits for the API server to confirm it. */
  get overrideWaiting(): boolean {
    return this.guard.waiting;
  }

  /** Routes whose reports wait to be written (the API server is slow or away). */
  get reportBacklog(): number {
    return this.reporting.backlog;
  }

  /** True while a pass is due or running: the reporting loop waits for it. */
  private get busy(): boolean {
    return !this.stopped && (this.running !== undefined || this.scheduled !== undefined);
  }

  /** Resolves when every published report has been handed to the reporter (tests, the benchmark). */
  reportsIdle(): Promise<void> {
    return this.reporting.idle();
  }

  /** Starts the source, the prober, the control-plane addresses and the periodic resync. */
  async start(): Promise<void> {
    const cp = this.props.controlPlane;
    cp.watch?.((a) => this.setControlPlane(a));
    this.controlPlaneKnown = cp.addresses().then((a) => this.setControlPlane(a), (e: Error) => this.props.log.warn('cannot read the control-plane addresses', { error: e }));
    this.resync = setInterval(() => {
      this.full = true;
      if (!cp.watch) void cp.addresses().then((a) => this.setControlPlane(a), () => undefined);
      this.trigger('periodic resync');
    }, this.props.config.resyncSeconds * 1000);
    this.props.prober.start();
    await this.props.source.start((s) => {
      this.snapshot = s;
      // The source hands a change over in its own turn of the event loop (the events of one read together): the
      // pass starts right here when idle, without a second hop through the event loop.
      this.trigger('source changed', true);
    });
  }

  private setControlPlane(addresses: readonly string[]): void {
    if (addresses.join(',') === this.controlPlaneAddresses.join(',')) return;
    this.controlPlaneAddresses = [...addresses];
    this.trigger('control-plane addresses changed');
  }

  /** Gateways changed state (from the prober). */
  gatewaysChanged(changed: readonly { gateway: string; up: boolean }[]): void {
    // Called from the prober's own callback: a failover starts its pass right here when idle.
    this.trigger('gateway health changed', true);
    for (const c of changed) {
      this.props.log.warn(c.up ? 'gateway up' : 'gateway down', { gateway: c.gateway });
      for (const o of this.lastPlan?.outcomes ?? []) {
        if (!o.gateways.includes(c.gateway)) continue;
        this.publisher.event(o.name, c.up ? 'Normal' : 'Warning', c.up ? 'GatewayUp' : 'GatewayDown', c.up
          ? `gateway ${c.gateway} answers again: back in rotation`
          : `gateway ${c.gateway} stopped answering probes: out of rotation`);
      }
    }
  }

  /** Someone else changed the kernel or the host (ip monitor): drop the cached views and resync. */
  kernelChanged(line: string, stale: { kernel: boolean; host: boolean }): void {
    // The adapter's own deletion coming back: its view already follows it, nothing to read or plan again.
    if (stale.kernel && !stale.host && this.props.kernel.ownChange?.(line)) return;
    if (stale.kernel) this.props.kernel.invalidate?.();
    if (stale.host) this.props.host.invalidate?.();
    this.trigger(`kernel changed: ${line.trim()}`);
  }

  /**
   * Asks for a pass: at once when idle (no trailing debounce: the first change after a quiet spell goes straight to
   * the kernel), gathered into one pass after the current one otherwise. `now`: the caller is at the top of its own
   * turn of the event loop (the source's hand-over), so an idle loop starts the pass synchronously.
   */
  trigger(why: string, now = false): void {
    if (this.stopped) return;
    this.props.log.debug('reconcile requested', { why });
    if (this.running) {
      this.again = true;
      return;
    }
    if (now && !this.scheduled) {
      this.run();
      return;
    }
    if (this.scheduled) return;
    // setImmediate, not setTimeout(0): the pass starts after the current I/O callbacks, without a timer hop.
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      this.run();
    });
  }

  private run(): void {
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.trigger('changed during the last pass');
      } else this.reporting.resume();
    });
  }

  private async pass(): Promise<void> {
    const snapshot = this.snapshot;
    if (!snapshot || this.stopped) return;
    const { config, log } = this.props;
    const started = process.hrtime.bigint();
    const full = this.full;
    this.full = false;
    try {
      if (full) {
        this.props.host.invalidate?.();
        if (!this.first) this.props.kernel.invalidate?.();
      }
      // Startup only: an override's keep-routes need the API server's addresses before the first apply.
      if (this.first) await Promise.race([this.controlPlaneKnown, new Promise((r) => setTimeout(r, this.props.controlPlaneWaitMs ?? 2000).unref())]);
      const controlPlaneAddresses = [...new Set([...config.controlPlaneAddresses, ...this.controlPlaneAddresses])];
      const host = await this.props.host.discover({ controlPlaneAddresses, keepAddresses: config.keepAddresses });
      const routes = this.validations.inputs(snapshot);
      const specs = this.validations.specs(snapshot);
      if (this.first) await this.adoptOverrides(snapshot, routes, host, specs);
      const p = plan({
        routes,
        node: snapshot.node,
        host,
        gatewaysDown: this.props.prober.down(),
        overridesRolledBack: this.guard.rolledBack(specs),
        config: this.planConfig,
      }, this.planMemo);
      this.lastPlan = p;
      // The kernel first: with its view current the adapter diffs and hands the writer its lines synchronously,
      // so the kernel works while the rest of this pass (metrics, logs, then the reports) runs.
      const applying = this.props.kernel.apply({ routes: p.routes, rules: p.rules });
      this.props.metrics?.setRefusals(p);
      this.logProblems(snapshot, p, full);
      const report = await applying;
      const sysctls = full || this.first ? await this.props.sysctls.apply(p.sysctls) : [];
      this.publisher.publish({ plan: p, report, sysctls, snapshot, full, first: this.first });
      // An override whose routes the kernel refused is not in place: nothing to confirm.
      const failedRoutes = new Set(report.results.flatMap((r) => (r.error && r.op.kind === 'replace-route' ? [r.op.route.routeName] : [])));
      this.guard.applied(new Map(p.outcomes.filter((o) => o.overrideActive && !failedRoutes.has(o.name)).map((o) => [o.name, specs.get(o.name) ?? ''])));
      const forward = new Map(p.forwardProbes.map((f) => [f.gateway, { target: f.target, mark: f.mark }]));
      this.props.prober.setTargets(p.probeGateways.map((gateway) => {
        const f = forward.get(gateway);
        return f ? { gateway, forward: f } : { gateway };
      }));
      this.props.metrics?.setGateways(this.props.prober.snapshot());
      this.first = false;
      this.applied = true;
    } catch (e) {
      log.error('reconcile failed; retrying', { error: e as Error });
      this.props.metrics?.kernelErrors.inc();
      this.full = true;
      if (this.retry) clearTimeout(this.retry);
      this.retry = setTimeout(() => this.trigger('retry after failure'), this.props.retryMs ?? 5000);
    } finally {
      this.passes++;
      this.props.metrics?.reconcileDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** Each source or plan problem once when it appears (and again on a full resync), not on every pass. */
  private logProblems(snapshot: SourceSnapshot, p: Plan, full: boolean): void {
    const { log } = this.props;
    if (snapshot.problems.length === 0 && p.problems.length === 0 && this.loggedProblems.size === 0) return;
    const problems = new Map<string, () => void>([
      ...snapshot.problems.map((pr) => [JSON.stringify(['source', pr.subject, pr.message]), () => log.warn('source problem', { subject: pr.subject, problem: pr.message })] as const),
      ...p.problems.map((pr) => [JSON.stringify(['plan', pr]), () => log.warn('plan problem', { problem: pr })] as const),
    ]);
    for (const [k, say] of problems) if (full || this.first || !this.loggedProblems.has(k)) say();
    this.loggedProblems = new Set(problems.keys());
  }

  /** An override already in the kernel at start was confirmed by a previous run: adopt it, open no window. */
  private async adoptOverrides(snapshot: SourceSnapshot, routes: readonly PlanRouteInput[], host: HostFacts, specs: ReadonlyMap<string, string>): Promise<void> {
    // This read also fills the kernel adapter's cache: the first apply does not read again.
    const state = await this.props.kernel.read();
    const inKernel = new Set(state.owned.filter((r) => r.table === 254).map((r) => r.dst));
    if (inKernel.size === 0) return;
    const p = plan({ routes, node: snapshot.node, host, gatewaysDown: new Set(), config: this.planConfig });
    for (const o of p.outcomes) {
      // Every override route of the Route (the /1 pair, or the /2 quarters of a disguised override) already there.
      const mine = p.routes.filter((r) => r.routeName === o.name && r.purpose === 'override');
      if (o.overrideActive && mine.length && mine.every((r) => inKernel.has(r.dst))) this.guard.adopt(o.name, specs.get(o.name) ?? '');
    }
  }

  /**
   * Stops timers, the prober, the guard, the reporting loop and the source; leaves the kernel as it is. Waits for a
   * pass in flight only briefly: a pass awaits nothing but the kernel, and the kernel keeps what it was sent.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.scheduled) clearImmediate(this.scheduled);
    if (this.resync) clearInterval(this.resync);
    if (this.retry) clearTimeout(this.retry);
    this.props.prober.stop();
    this.guard.stop();
    this.reporting.stop();
    await this.props.source.stop();
    await Promise.race([this.running, new Promise((r) => setTimeout(r, 500).unref())]);
    await this.props.kernel.close?.();
  }
}
