/**
 * The dataplane loop: observe (source snapshot, cached host facts and control-plane addresses, gateway health) →
 * plan (pure) → apply (kernel port) → publish the outcome per Route to the reporting loop (./reporting.ts), as a
 * value. Nothing on this path awaits the API server: a failover reaches the kernel in the same time whether the API
 * server answers, refuses or hangs. One pass at a time; a trigger while idle runs at once, triggers during a pass
 * are gathered into the next one. Triggers: a source change, a gateway going down or up, a kernel or host change
 * (ip monitor), an override rollback, new control-plane addresses, and a periodic full resync.
 */
import { IN_KERNEL_STATES, validateRoute, type AgentConfig, type NormalizedRoute, type Result, type RouteNodeStatus } from '../core/index.js';
import { OVERRIDE_HALVES, plan, PlanMemo, type HostFacts, type Plan, type PlanRouteInput, type RouteOutcome } from '../core/plan/index.js';
import type { ApplyReport, KernelPort } from './kernel/port.js';
import type { SysctlResult } from './kernel/sysctl.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import { OverrideGuard } from './override-guard.js';
import type { ControlPlane, Reporter, RouteSource, SourceSnapshot } from './ports.js';
import type { Prober } from './prober.js';
import { ReportingLoop } from './reporting.js';

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

/** The spec of a sourced object as a comparable key (an override is confirmed per spec). */
function specKey(object: unknown): string {
  return JSON.stringify(typeof object === 'object' && object !== null ? (object as { spec?: unknown }).spec ?? null : null);
}

/** The main-table destinations a Route's spec names (an override's /0 as its two halves), read without validation. */
function specDestinations(object: unknown): string[] {
  const spec = typeof object === 'object' && object !== null ? (object as { spec?: { destinations?: unknown } }).spec : undefined;
  const list = Array.isArray(spec?.destinations) ? spec.destinations.filter((d): d is string => typeof d === 'string') : [];
  return list.flatMap((d) => (d === '0.0.0.0/0' ? [...OVERRIDE_HALVES[4]] : d === '::/0' ? [...OVERRIDE_HALVES[6]] : [d]));
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
  private readonly guard: OverrideGuard;
  private readonly reporting: ReportingLoop;
  /** Per Route: what was last published (without the time), and the time its state last changed. */
  private readonly lastStatus = new Map<string, { key: string; state: string; since: string }>();
  private readonly lastEvent = new Map<string, string>();
  /** Per Route: the destinations of its routes in the kernel (from the plans applied), for its release. */
  private readonly owned = new Map<string, readonly string[]>();
  private lastPlan?: Plan;
  /** Each Route's own plan, reused while nothing it depends on changed (plan only what changed). */
  private readonly planMemo = new PlanMemo();
  /** Per Route: the version last validated (uid/generation, or the object) and the result: once per generation. */
  private readonly validations = new Map<string, {
    readonly object: unknown;
    readonly result: Result<NormalizedRoute>;
    readonly spec: string;
    readonly source: SourceSnapshot['routes'][number];
    readonly input: PlanRouteInput;
  }>();
  /** Per Route: the outcome last published (the planner hands back the same object while nothing changed for it). */
  private readonly lastOutcome = new Map<string, RouteOutcome>();
  /** Validations run so far (tests check a pass reuses them). */
  validationsRun = 0;
  /** True once a plan has been applied (readiness). */
  applied = false;
  /** Passes completed (tests wait on it). */
  passes = 0;

  constructor(private readonly props: ReconcilerProps) {
    this.reporting = new ReportingLoop({ reporter: props.reporter, log: props.log.with({ component: 'reporting' }) });
    this.guard = new OverrideGuard({
      controlPlane: props.controlPlane,
      confirmSeconds: props.config.overrideConfirmSeconds,
      log: props.log,
      events: {
        confirmed: (name, ms) => {
          props.log.info('override confirmed: the API server answers', { route: name, afterMs: ms });
          this.event(name, 'Normal', 'OverrideApplied', `default-route override applied and confirmed: the API server answered after ${ms} ms`);
        },
        rolledBack: (name, why) => {
          props.log.warn('override rolled back', { route: name, why });
          this.event(name, 'Warning', 'OverrideRolledBack', `default-route override rolled back: ${why}`);
          this.trigger('override rolled back');
        },
      },
    });
  }

  /** True while an applied override waits for the API server to confirm it. */
  get overrideWaiting(): boolean {
    return this.guard.waiting;
  }

  /** Routes whose reports wait to be written (the API server is slow or away). */
  get reportBacklog(): number {
    return this.reporting.backlog;
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
      this.trigger('source changed');
    });
  }

  private setControlPlane(addresses: readonly string[]): void {
    if (addresses.join(',') === this.controlPlaneAddresses.join(',')) return;
    this.controlPlaneAddresses = [...addresses];
    this.trigger('control-plane addresses changed');
  }

  /** Gateways changed state (from the prober). */
  gatewaysChanged(changed: readonly { gateway: string; up: boolean }[]): void {
    this.trigger('gateway health changed');
    for (const c of changed) {
      this.props.log.warn(c.up ? 'gateway up' : 'gateway down', { gateway: c.gateway });
      for (const o of this.lastPlan?.outcomes ?? []) {
        if (!o.gateways.includes(c.gateway)) continue;
        this.event(o.name, c.up ? 'Normal' : 'Warning', c.up ? 'GatewayUp' : 'GatewayDown', c.up
          ? `gateway ${c.gateway} answers again: back in rotation`
          : `gateway ${c.gateway} stopped answering probes: out of rotation`);
      }
    }
  }

  /** Someone else changed the kernel or the host (ip monitor): drop the cached views and resync. */
  kernelChanged(line: string, stale: { kernel: boolean; host: boolean }): void {
    if (stale.kernel) this.props.kernel.invalidate?.();
    if (stale.host) this.props.host.invalidate?.();
    this.trigger(`kernel changed: ${line.trim()}`);
  }

  /**
   * Asks for a pass: at once when idle (no trailing debounce: the first change after a quiet spell goes straight to
   * the kernel), gathered into one pass after the current one otherwise.
   */
  trigger(why: string): void {
    if (this.stopped) return;
    this.props.log.debug('reconcile requested', { why });
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    // setImmediate, not setTimeout(0): the pass starts after the current I/O callbacks, without a timer hop.
    this.scheduled = setImmediate(() => {
      this.scheduled = undefined;
      this.running = this.pass().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.trigger('changed during the last pass');
        }
      });
    });
  }

  private event(routeName: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.reporting.event({ routeName, type, reason, message });
  }

  /** Emits an event only when its text for this route and reason changed. */
  private eventOnce(routeName: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const k = `${routeName}\n${reason}`;
    if (this.lastEvent.get(k) === message) return;
    this.lastEvent.set(k, message);
    this.event(routeName, type, reason, message);
  }

  /** Problems logged by the last pass (source and plan), so each is logged once when it appears. */
  private loggedProblems = new Set<string>();

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
      const routes = this.validated(snapshot);
      const specs = new Map(snapshot.routes.map((r) => [r.name, this.validations.get(r.name)?.spec ?? specKey(r.object)]));
      if (this.first) await this.adoptOverrides(snapshot, routes, host, specs);
      const p = plan({
        routes,
        node: snapshot.node,
        host,
        gatewaysDown: this.props.prober.down(),
        overridesRolledBack: this.guard.rolledBack(specs),
        config,
      }, this.planMemo);
      this.lastPlan = p;
      this.props.metrics?.setRefusals(p);
      // Each problem once when it appears (and again on a full resync), not on every pass.
      const problems = new Map<string, () => void>([
        ...snapshot.problems.map((pr) => [JSON.stringify(['source', pr.subject, pr.message]), () => log.warn('source problem', { subject: pr.subject, problem: pr.message })] as const),
        ...p.problems.map((pr) => [JSON.stringify(['plan', pr]), () => log.warn('plan problem', { problem: pr })] as const),
      ]);
      for (const [k, say] of problems) if (full || this.first || !this.loggedProblems.has(k)) say();
      this.loggedProblems = new Set(problems.keys());
      const report = await this.props.kernel.apply({ routes: p.routes, rules: p.rules });
      const sysctls = full || this.first ? await this.props.sysctls.apply(p.sysctls) : [];
      this.publish(p, report, sysctls, snapshot, full);
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

  /** The snapshot's Routes with their validation, reused while the object is the same (sources keep it per generation). */
  private validated(snapshot: SourceSnapshot): PlanRouteInput[] {
    const out = snapshot.routes.map((r): PlanRouteInput => {
      if (r.deleting) return r;
      // One version of a spec: uid and generation where the source has them (the API server bumps the generation on
      // every spec change; status writes keep it), the object itself otherwise (files: kept until they change).
      const version = r.uid !== undefined && r.generation !== undefined ? `${r.uid}/${r.generation}` : r.object;
      const cached = this.validations.get(r.name);
      if (cached && cached.object === version) {
        // The same sourced object as last pass: the same input object too, so the planner's memo finds it as is.
        if (cached.source === r) return cached.input;
        const input = { ...r, validated: cached.result };
        this.validations.set(r.name, { ...cached, source: r, input });
        return input;
      }
      this.validationsRun++;
      const result = validateRoute(r.object);
      const input = { ...r, validated: result };
      this.validations.set(r.name, { object: version, result, spec: specKey(r.object), source: r, input });
      return input;
    });
    if (this.validations.size > out.length) {
      const names = new Set(out.map((r) => r.name));
      for (const n of [...this.validations.keys()]) if (!names.has(n)) this.validations.delete(n);
    }
    return out;
  }

  /** An override already in the kernel at start was confirmed by a previous run: adopt it, open no window. */
  private async adoptOverrides(snapshot: SourceSnapshot, routes: readonly PlanRouteInput[], host: HostFacts, specs: ReadonlyMap<string, string>): Promise<void> {
    // This read also fills the kernel adapter's cache: the first apply does not read again.
    const state = await this.props.kernel.read();
    const inKernel = new Set(state.owned.filter((r) => r.table === 254).map((r) => r.dst));
    if (inKernel.size === 0) return;
    const p = plan({ routes, node: snapshot.node, host, gatewaysDown: new Set(), config: this.props.config });
    for (const o of p.outcomes) {
      // Every override route of the Route (the /1 pair, or the /2 quarters of a disguised override) already there.
      const mine = p.routes.filter((r) => r.routeName === o.name && r.purpose === 'override');
      if (o.overrideActive && mine.length && mine.every((r) => inKernel.has(r.dst))) this.guard.adopt(o.name, specs.get(o.name) ?? '');
    }
  }

  /** Turns the apply's outcome into one report per Route for the reporting loop; never waits for it. */
  private publish(p: Plan, report: ApplyReport, sysctls: readonly SysctlResult[], snapshot: SourceSnapshot, full: boolean): void {
    const { log, metrics } = this.props;
    const errorsByRoute = new Map<string, string[]>();
    const nodeErrors: string[] = [];
    /** Destinations (main table) whose delete failed: still in the kernel. */
    const stillThere = new Set<string>();
    let failedReplaces = 0;
    let failedDeletes = 0;
    for (const r of report.results) {
      if (!r.error) continue;
      metrics?.kernelErrors.inc();
      const what = r.op.kind === 'replace-route' || r.op.kind === 'delete-route' ? `${r.op.kind} ${r.op.route.dst} table ${r.op.route.table}` : `${r.op.kind} from ${r.op.rule.src}`;
      log.error('kernel operation failed', { op: r.op.kind, target: what, error: r.error });
      if (r.op.kind === 'delete-route') {
        failedDeletes++;
        if (r.op.route.table === 254) stillThere.add(r.op.route.dst);
      }
      if (r.op.kind === 'delete-rule') failedDeletes++;
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

    // Plan only what changed, report only what changed: a Route whose outcome is the very object last published,
    // with no kernel error now or last time, has nothing new to say (a full resync republishes every one).
    const changed = p.outcomes.filter((o) => full || this.first || o !== this.lastOutcome.get(o.name) || errorsByRoute.has(o.name) || this.lastEvent.has(`${o.name}\nKernelError`) || o.state === 'Removing');
    // What each changed Route now has in the kernel (its planned routes that did not fail), for its release later.
    const changedNames = new Set(changed.map((o) => o.name));
    const failed = new Set(report.results.filter((r) => r.error && r.op.kind === 'replace-route').map((r) => (r.op as { route: { dst: string } }).route.dst));
    const planned = new Map<string, string[]>();
    for (const r of p.routes) if (r.routeName && r.table === 254 && changedNames.has(r.routeName) && !failed.has(r.dst)) planned.set(r.routeName, [...(planned.get(r.routeName) ?? []), r.dst]);
    const objects = new Map(snapshot.routes.map((r) => [r.name, r]));
    for (const o of changed) {
      const dsts = planned.get(o.name);
      if (dsts) this.owned.set(o.name, dsts);
      else if (o.state !== 'Removing') this.owned.delete(o.name);
    }

    for (const o of changed) {
      this.lastOutcome.set(o.name, o);
      const errs = errorsByRoute.get(o.name);
      const status = this.status(snapshot.node.name, o, errs, objects.get(o.name)?.generation);
      // Released per Route, from what is in the kernel: none of its destinations (those it had in the kernel, or
      // its spec's after a restart) failed to be deleted. A failure elsewhere on the node holds nobody up.
      const release = o.state === 'Removing' && ![...(this.owned.get(o.name) ?? []), ...specDestinations(objects.get(o.name)?.object)].some((d) => stillThere.has(d));
      const hold = IN_KERNEL_STATES.has(o.state);
      // Compared on every pass for every Route: a joined string, not JSON (the same fields).
      const key = `${status.state}\n${status.reason}\n${status.message}\n${status.activeGateways?.join(',') ?? ''}\n${status.observedGeneration ?? ''}\n${hold}\n${release}`;
      const last = this.lastStatus.get(o.name);
      if (last?.key !== key || full) {
        // lastTransitionTime moves only when the state does (a gateway change keeps it), so a reporter that
        // writes only changes sees the same entry for the same news.
        const since = last && last.state === status.state ? last.since : new Date().toISOString();
        this.lastStatus.set(o.name, { key, state: status.state, since });
        this.reporting.publish(o.name, { status: { ...status, lastTransitionTime: since }, hold, release });
      }
      if (release) this.owned.delete(o.name);
      if (o.state === 'Invalid') this.eventOnce(o.name, 'Warning', 'InvalidRoute', o.message);
      // Refused on this node by the safety rules (docs/safety.md): the destination or gateway and why.
      if (o.refused.length || o.reason === 'GatewayNotOnLink' || o.reason === 'PartiallyRefused') this.eventOnce(o.name, 'Warning', 'RouteRefused', o.message);
      if (errs) this.eventOnce(o.name, 'Warning', 'KernelError', errs.join('; '));
      else this.lastEvent.delete(`${o.name}\nKernelError`);
    }
    // Forget Routes that are gone: only a pass with news can have lost one (an unchanged pass has the same Routes).
    if (changed.length === 0 && this.lastOutcome.size === p.outcomes.length) return;
    const names = new Set(p.outcomes.map((o) => o.name));
    for (const m of [this.lastStatus, this.owned, this.lastOutcome]) for (const n of [...m.keys()]) if (!names.has(n)) m.delete(n);
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
