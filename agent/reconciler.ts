/**
 * The agent's loop: observe (source snapshot, host facts, gateway health) → plan (pure) → apply (kernel port, one
 * batch) → report. Debounced; one pass at a time; a failing route never blocks the others. Triggers: a source
 * change, a gateway going down or up, a deleted owned route (ip monitor), an override rollback, and a periodic
 * full resync.
 */
import type { AgentConfig, RouteNodeStatus } from '../core/index.js';
import { plan, type HostFacts, type Plan, type RouteOutcome } from '../core/plan/index.js';
import type { KernelPort, ApplyReport } from './kernel/port.js';
import type { SysctlResult } from './kernel/sysctl.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import { OverrideGuard } from './override-guard.js';
import type { ControlPlane, Reporter, RouteSource, SourceSnapshot } from './ports.js';
import type { Prober } from './prober.js';
import { eachLimited } from './concurrency.js';

/** API writes (finalizers, status entries, events) in flight at once: enough to hide round trips, few enough that an
 * API server under a thousand new Routes still answers everyone else. */
const API_WRITES_IN_FLIGHT = 16;

/** What the reconciler drives. */
export interface ReconcilerProps {
  readonly config: AgentConfig;
  readonly source: RouteSource;
  readonly reporter: Reporter;
  readonly controlPlane: ControlPlane;
  readonly kernel: KernelPort;
  readonly sysctls: { apply(wanted: Plan['sysctls']): Promise<SysctlResult[]> };
  readonly host: { discover(extra: { controlPlaneAddresses: readonly string[]; keepAddresses: readonly string[] }): Promise<HostFacts> };
  readonly prober: Pick<Prober, 'setTargets' | 'down' | 'snapshot' | 'start' | 'stop'>;
  readonly log: Logger;
  readonly metrics?: AgentMetrics;
  /** @default 100 */
  readonly debounceMs?: number;
  /** Retry delay after a pass failed as a whole. @default 5000 */
  readonly retryMs?: number;
}

/** The spec of a sourced object as a comparable key (an override is confirmed per spec). */
function specKey(object: unknown): string {
  return JSON.stringify(typeof object === 'object' && object !== null ? (object as { spec?: unknown }).spec ?? null : null);
}

/** The observe → plan → apply loop. */
export class Reconciler {
  private snapshot?: SourceSnapshot;
  private timer?: NodeJS.Timeout;
  private resync?: NodeJS.Timeout;
  private retry?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private first = true;
  /** When the last pass ended (performance.now()); -Infinity before the first. */
  private lastPassEnd = -Infinity;
  private readonly guard: OverrideGuard;
  /** Per Route: what was last reported (without the time), and the time its state last changed. */
  private readonly lastStatus = new Map<string, { key: string; state: string; since: string }>();
  private readonly lastEvent = new Map<string, string>();
  private lastPlan?: Plan;
  /** True once a plan has been applied (readiness). */
  applied = false;
  /** Passes completed (tests wait on it). */
  passes = 0;

  constructor(private readonly props: ReconcilerProps) {
    this.guard = new OverrideGuard({
      controlPlane: props.controlPlane,
      confirmSeconds: props.config.overrideConfirmSeconds,
      log: props.log,
      events: {
        confirmed: (name, ms) => {
          props.log.info('override confirmed: the API server answers', { route: name, afterMs: ms });
          void this.event(name, 'Normal', 'OverrideApplied', `default-route override applied and confirmed: the API server answered after ${ms} ms`);
        },
        rolledBack: (name, why) => {
          props.log.warn('override rolled back', { route: name, why });
          void this.event(name, 'Warning', 'OverrideRolledBack', `default-route override rolled back: ${why}`);
          this.trigger('override rolled back');
        },
      },
    });
  }

  /** True while an applied override waits for the API server to confirm it. */
  get overrideWaiting(): boolean {
    return this.guard.waiting;
  }

  /** Starts the source, the prober and the periodic resync. */
  async start(): Promise<void> {
    this.resync = setInterval(() => this.trigger('periodic resync'), this.props.config.resyncSeconds * 1000);
    this.props.prober.start();
    await this.props.source.start((s) => {
      this.snapshot = s;
      this.trigger('source changed');
    });
  }

  /** Gateways changed state (from the prober). */
  gatewaysChanged(changed: readonly { gateway: string; up: boolean }[]): void {
    for (const c of changed) {
      this.props.log.warn(c.up ? 'gateway up' : 'gateway down', { gateway: c.gateway });
      for (const o of this.lastPlan?.outcomes ?? []) {
        if (!o.gateways.includes(c.gateway)) continue;
        void this.event(o.name, c.up ? 'Normal' : 'Warning', c.up ? 'GatewayUp' : 'GatewayDown', c.up
          ? `gateway ${c.gateway} answers again: back in rotation`
          : `gateway ${c.gateway} stopped answering probes: out of rotation`);
      }
    }
    this.trigger('gateway health changed');
  }

  /** Asks for a pass soon (debounced). */
  trigger(why: string): void {
    if (this.stopped) return;
    this.props.log.debug('reconcile requested', { why });
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.timer) return;
    // After a quiet spell the first trigger runs at once (a new Route is programmed without waiting out the
    // debounce: 100 ms of the ~600 ms a 10,000-route file took end to end); triggers within `debounceMs` of the
    // last pass, and those that arrive during one, are gathered into one pass as before.
    const debounceMs = this.props.debounceMs ?? 100;
    const quiet = performance.now() - this.lastPassEnd >= debounceMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.pass().finally(() => {
        this.running = undefined;
        this.lastPassEnd = performance.now();
        if (this.again) {
          this.again = false;
          this.trigger('changed during the last pass');
        }
      });
    }, quiet ? 0 : debounceMs);
  }

  private async event(routeName: string, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await this.props.reporter.event({ routeName, type, reason, message });
    } catch (e) {
      this.props.log.warn('reporting an event failed', { route: routeName, reason, error: e as Error });
    }
  }

  /** Emits an event only when its text for this route and reason changed. */
  private async eventOnce(routeName: string, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const k = `${routeName}\n${reason}`;
    if (this.lastEvent.get(k) === message) return;
    this.lastEvent.set(k, message);
    await this.event(routeName, type, reason, message);
  }

  private async pass(): Promise<void> {
    const snapshot = this.snapshot;
    if (!snapshot || this.stopped) return;
    const { config, log } = this.props;
    const started = process.hrtime.bigint();
    try {
      const discovered = await this.props.controlPlane.addresses().catch(() => [] as readonly string[]);
      const controlPlaneAddresses = [...new Set([...config.controlPlaneAddresses, ...discovered])];
      const host = await this.props.host.discover({ controlPlaneAddresses, keepAddresses: config.keepAddresses });
      const specs = new Map(snapshot.routes.map((r) => [r.name, specKey(r.object)]));
      if (this.first) await this.adoptOverrides(snapshot, host, specs);
      const p = plan({
        routes: snapshot.routes,
        node: snapshot.node,
        host,
        gatewaysDown: this.props.prober.down(),
        overridesRolledBack: this.guard.rolledBack(specs),
        config,
      });
      this.lastPlan = p;
      for (const pr of snapshot.problems) log.warn('source problem', { subject: pr.subject, problem: pr.message });
      for (const pr of p.problems) log.warn('plan problem', { problem: pr });
      const held = p.outcomes.filter((o) => o.state === 'Applied');
      await eachLimited(held, API_WRITES_IN_FLIGHT, (o) => this.props.reporter.hold(o.name).catch((e: Error) => log.warn('hold failed', { route: o.name, error: e })));
      const report = await this.props.kernel.apply({ routes: p.routes, rules: p.rules });
      const sysctls = await this.props.sysctls.apply(p.sysctls);
      await this.report(p, report, sysctls, snapshot);
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
      if (this.retry) clearTimeout(this.retry);
      this.retry = setTimeout(() => this.trigger('retry after failure'), this.props.retryMs ?? 5000);
    } finally {
      this.passes++;
      this.props.metrics?.reconcileDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** An override already in the kernel at start was confirmed by a previous run: adopt it, open no window. */
  private async adoptOverrides(snapshot: SourceSnapshot, host: HostFacts, specs: ReadonlyMap<string, string>): Promise<void> {
    const state = await this.props.kernel.read();
    const inKernel = new Set(state.owned.filter((r) => r.table === 254).map((r) => r.dst));
    if (inKernel.size === 0) return;
    const p = plan({ routes: snapshot.routes, node: snapshot.node, host, gatewaysDown: new Set(), config: this.props.config });
    for (const o of p.outcomes) {
      // Every override route of the Route (the /1 pair, or the /2 quarters of a disguised override) already there.
      const mine = p.routes.filter((r) => r.routeName === o.name && r.purpose === 'override');
      if (o.overrideActive && mine.length && mine.every((r) => inKernel.has(r.dst))) this.guard.adopt(o.name, specs.get(o.name) ?? '');
    }
  }

  private async report(p: Plan, report: ApplyReport, sysctls: readonly SysctlResult[], snapshot: SourceSnapshot): Promise<void> {
    const { log, reporter, metrics } = this.props;
    const errorsByRoute = new Map<string, string[]>();
    const nodeErrors: string[] = [];
    let failedDeletes = 0;
    let failedReplaces = 0;
    for (const r of report.results) {
      if (!r.error) continue;
      metrics?.kernelErrors.inc();
      const what = r.op.kind === 'replace-route' || r.op.kind === 'delete-route' ? `${r.op.kind} ${r.op.route.dst} table ${r.op.route.table}` : `${r.op.kind} from ${r.op.rule.src}`;
      log.error('kernel operation failed', { op: r.op.kind, target: what, error: r.error });
      if (r.op.kind === 'delete-route' || r.op.kind === 'delete-rule') failedDeletes++;
      if (r.op.kind === 'replace-route') failedReplaces++;
      const owner = r.op.kind === 'replace-route' ? r.op.route.routeName : '';
      if (owner) errorsByRoute.set(owner, [...(errorsByRoute.get(owner) ?? []), `${what}: ${r.error}`]);
      else nodeErrors.push(`${what}: ${r.error}`);
    }
    for (const c of report.conflicts) {
      const msg = `${c.route.dst}: a route not owned by kroute (protocol ${c.foreign.protocol}) is already there; left alone`;
      if (c.route.routeName) errorsByRoute.set(c.route.routeName, [...(errorsByRoute.get(c.route.routeName) ?? []), msg]);
      else nodeErrors.push(msg);
    }
    for (const s of sysctls) {
      if (s.error) {
        metrics?.kernelErrors.inc();
        nodeErrors.push(`sysctl ${s.key}: ${s.error}`);
        log.error('sysctl failed', { key: s.key, error: s.error });
      } else if (s.changed) log.info('sysctl set', { key: s.key, value: s.value, before: s.before });
    }
    const changes = report.results.filter((r) => !r.error).length;
    if (changes > 0 || this.first) log.info('applied', { changes, unchanged: report.unchanged, errors: failedDeletes + failedReplaces, writers: report.writes, desired: p.routes.length });
    if (nodeErrors.length) log.warn('node-level kernel problems', { problems: nodeErrors });
    metrics?.routesDesired.set(p.routes.length);
    metrics?.routesApplied.set(p.routes.length - failedReplaces - report.conflicts.length);

    const generations = new Map(snapshot.routes.map((r) => [r.name, r.generation]));
    // Routes report independently of one another (each its own status entry, events, finalizer): a thousand new
    // Routes would otherwise wait on a thousand API round trips one after another.
    await eachLimited(p.outcomes, API_WRITES_IN_FLIGHT, async (o) => {
      const errs = errorsByRoute.get(o.name);
      const status = this.status(snapshot.node.name, o, errs, generations.get(o.name));
      const key = JSON.stringify(status);
      const last = this.lastStatus.get(o.name);
      if (last?.key !== key) {
        // lastTransitionTime moves only when the state does (a gateway change keeps it), so a reporter that
        // writes only changes sees the same entry for the same news.
        const since = last && last.state === status.state ? last.since : new Date().toISOString();
        this.lastStatus.set(o.name, { key, state: status.state, since });
        const entry = { ...status, lastTransitionTime: since };
        const write = status.state === 'NotSelected' ? reporter.clear(o.name, entry) : reporter.status(o.name, entry);
        await write.catch((e: Error) => log.warn('status failed', { route: o.name, error: e }));
      }
      if (o.state === 'Invalid') await this.eventOnce(o.name, 'Warning', 'InvalidRoute', o.message);
      // Refused on this node by the safety rules (docs/safety.md): the destination or gateway and why.
      if (o.refused.length || o.reason === 'GatewayNotOnLink' || o.reason === 'PartiallyRefused') await this.eventOnce(o.name, 'Warning', 'RouteRefused', o.message);
      if (errs) await this.eventOnce(o.name, 'Warning', 'KernelError', errs.join('; '));
      else this.lastEvent.delete(`${o.name}\nKernelError`);
      if (o.state === 'Removing' && failedDeletes === 0) {
        await reporter.release(o.name).catch((e: Error) => log.warn('release failed', { route: o.name, error: e }));
      }
    });
    const names = new Set(p.outcomes.map((o) => o.name));
    for (const n of [...this.lastStatus.keys()]) if (!names.has(n)) this.lastStatus.delete(n);
  }

  private status(nodeName: string, o: RouteOutcome, errs: readonly string[] | undefined, generation: number | undefined): RouteNodeStatus {
    const base = {
      nodeName,
      ...(o.activeGateways.length ? { activeGateways: [...o.activeGateways] } : {}),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
    if (errs) return { ...base, state: 'Failed', reason: 'KernelError', message: errs.join('; ') };
    return { ...base, state: o.state, reason: o.reason, message: o.message };
  }

  /** Stops timers, the prober, the guard and the source; leaves the kernel as it is. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.resync) clearInterval(this.resync);
    if (this.retry) clearTimeout(this.retry);
    this.props.prober.stop();
    this.guard.stop();
    await this.props.source.stop();
    await this.running;
  }
}
