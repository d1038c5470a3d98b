/**
 * What a pass has to say, per Route, handed to the reporting loop (./reporting.ts) as values: the status entry, hold
 * or release of the finalizer, and Events; kernel errors and sysctl failures logged and counted. Only what changed
 * is published (a full resync republishes every Route); nothing here waits for the API server.
 */
import { IN_KERNEL_STATES, type RouteNodeStatus } from '../core/index.js';
import type { Plan, RouteOutcome } from '../core/plan/index.js';
import type { ApplyReport } from './kernel/port.js';
import type { SysctlResult } from './kernel/sysctl.js';
import type { Logger } from './log.js';
import type { AgentMetrics } from './metrics.js';
import type { SourceSnapshot } from './ports.js';
import type { ReportingLoop } from './reporting.js';
import { specDestinations } from './route-validations.js';

/** What one pass did, as the publisher needs it. */
export interface PassOutcome {
  readonly plan: Plan;
  readonly report: ApplyReport;
  readonly sysctls: readonly SysctlResult[];
  readonly snapshot: SourceSnapshot;
  /** A full resync (or the first pass): republish every Route. */
  readonly full: boolean;
  /** The agent's first successful pass (logs what it applied even when nothing changed). */
  readonly first: boolean;
}

/** Turns each pass's outcome into reports per Route, remembering what it last said. */
export class ReportPublisher {
  /** Per Route: what was last published (without the time), and the time its state last changed. */
  private readonly lastStatus = new Map<string, { key: string; state: string; since: string }>();
  private readonly lastEvent = new Map<string, string>();
  /** Per Route: the destinations of its routes in the kernel (from the plans applied), for its release. */
  private readonly owned = new Map<string, readonly string[]>();
  /** Per Route: the outcome last published (the planner hands back the same object while nothing changed for it). */
  private readonly lastOutcome = new Map<string, RouteOutcome>();

  constructor(private readonly props: { readonly reporting: ReportingLoop; readonly log: Logger; readonly metrics?: AgentMetrics }) {}

  event(routeName: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.props.reporting.event({ routeName, type, reason, message });
  }

  /** Emits an event only when its text for this route and reason changed. */
  private eventOnce(routeName: string, type: 'Normal' | 'Warning', reason: string, message: string): void {
    const k = `${routeName}\n${reason}`;
    if (this.lastEvent.get(k) === message) return;
    this.lastEvent.set(k, message);
    this.event(routeName, type, reason, message);
  }

  /** Publishes one pass: never waits for the reporting loop. */
  publish({ plan: p, report, sysctls, snapshot, full, first }: PassOutcome): void {
    const { log, metrics } = this.props;
    const errorsByRoute = new Map<string, string[]>();
    const nodeErrors: string[] = [];
    /** Destinations (main table) whose delete failed: still in the kernel. */
    const stillThere = new Set<string>();
    /** Destinations whose replace failed: not in the kernel as planned. */
    const failed = new Set<string>();
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
      if (r.op.kind === 'replace-route') failed.add(r.op.route.dst);
      const owner = r.op.kind === 'replace-route' ? r.op.route.routeName : '';
      if (owner) errorsByRoute.set(owner, [...(errorsByRoute.get(owner) ?? []), `${what}: ${r.error}`]);
      else nodeErrors.push(`${what}: ${r.error}`);
    }
    const failedReplaces = report.results.filter((r) => r.error && r.op.kind === 'replace-route').length;
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
    if (changes > 0 || first) log.info('applied', { changes, unchanged: report.unchanged, errors: failedDeletes + failedReplaces, writers: report.writes, desired: p.routes.length });
    if (nodeErrors.length) log.warn('node-level kernel problems', { problems: nodeErrors });
    metrics?.routesDesired.set(p.routes.length);
    metrics?.routesApplied.set(p.routes.length - failedReplaces - report.conflicts.length);

    // Plan only what changed, report only what changed: a Route whose outcome is the very object last published,
    // with no kernel error now or last time, has nothing new to say (a full resync republishes every one).
    const changed = p.outcomes.filter((o) => full || o !== this.lastOutcome.get(o.name) || errorsByRoute.has(o.name) || this.lastEvent.has(`${o.name}\nKernelError`) || o.state === 'Removing');
    if (changed.length > 0) this.publishChanged(p, changed, errorsByRoute, stillThere, failed, snapshot, full);
    // Forget Routes that are gone: only a pass with news can have lost one (an unchanged pass has the same Routes).
    if (changed.length === 0 && this.lastOutcome.size === p.outcomes.length) return;
    const names = new Set(p.outcomes.map((o) => o.name));
    for (const m of [this.lastStatus, this.owned, this.lastOutcome]) for (const n of [...m.keys()]) if (!names.has(n)) m.delete(n);
  }

  private publishChanged(p: Plan, changed: readonly RouteOutcome[], errorsByRoute: ReadonlyMap<string, string[]>, stillThere: ReadonlySet<string>, failed: ReadonlySet<string>, snapshot: SourceSnapshot, full: boolean): void {
    // What each changed Route now has in the kernel (its planned routes that did not fail), for its release later.
    const changedNames = new Set(changed.map((o) => o.name));
    const planned = new Map<string, string[]>();
    for (const r of p.routes) if (r.routeName && r.table === 254 && changedNames.has(r.routeName) && !failed.has(r.dst)) planned.set(r.routeName, [...(planned.get(r.routeName) ?? []), r.dst]);
    const objects = new Map(snapshot.routes.filter((r) => changedNames.has(r.name)).map((r) => [r.name, r]));
    for (const o of changed) {
      const dsts = planned.get(o.name);
      if (dsts) this.owned.set(o.name, dsts);
      else if (o.state !== 'Removing') this.owned.delete(o.name);
    }
    for (const o of changed) {
      this.lastOutcome.set(o.name, o);
      const errs = errorsByRoute.get(o.name);
      const status = statusOf(snapshot.node.name, o, errs, objects.get(o.name)?.generation);
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
        this.props.reporting.publish(o.name, { status: { ...status, lastTransitionTime: since }, hold, release });
      }
      if (release) this.owned.delete(o.name);
      if (o.state === 'Invalid') this.eventOnce(o.name, 'Warning', 'InvalidRoute', o.message);
      // Refused on this node by the safety rules (docs/safety.md): the destination or gateway and why.
      if (o.refused.length || o.reason === 'GatewayNotOnLink' || o.reason === 'PartiallyRefused') this.eventOnce(o.name, 'Warning', 'RouteRefused', o.message);
      if (errs) this.eventOnce(o.name, 'Warning', 'KernelError', errs.join('; '));
      else this.lastEvent.delete(`${o.name}\nKernelError`);
    }
  }
}

function statusOf(nodeName: string, o: RouteOutcome, errs: readonly string[] | undefined, generation: number | undefined): RouteNodeStatus {
  const base = {
    nodeName,
    ...(o.activeGateways.length ? { activeGateways: [...o.activeGateways] } : {}),
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  if (errs) return { ...base, state: 'Failed', reason: 'KernelError', message: errs.join('; ') };
  return { ...base, state: o.state, reason: o.reason, message: o.message };
}
