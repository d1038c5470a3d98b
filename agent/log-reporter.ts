/**
 * The Reporter of file mode: status entries and events become JSON log lines (msg "route status" and "event"), so
 * tests and people read what the Kubernetes face would have written to the API server. Only changes are logged.
 */
import type { RouteNodeStatus } from '../core/index.js';
import type { Logger } from './log.js';
import type { AgentEvent, Reporter } from './ports.js';

/** A Reporter that logs. */
export class LogReporter implements Reporter {
  private readonly last = new Map<string, string>();
  private readonly held = new Set<string>();

  constructor(private readonly log: Logger) {}

  async status(routeName: string, status: RouteNodeStatus): Promise<void> {
    const key = JSON.stringify({ ...status, lastTransitionTime: undefined });
    if (this.last.get(routeName) === key) return;
    this.last.set(routeName, key);
    this.log.info('route status', { route: routeName, ...status });
  }

  /** File mode has no entries to remove: the line says the Route does not select this node, and why. */
  async clear(routeName: string, status: RouteNodeStatus): Promise<void> {
    await this.status(routeName, status);
  }

  async event(e: AgentEvent): Promise<void> {
    const line = { route: e.routeName, type: e.type, reason: e.reason, message: e.message };
    if (e.type === 'Warning') this.log.warn('event', line);
    else this.log.info('event', line);
  }

  async hold(routeName: string): Promise<void> {
    if (this.held.has(routeName)) return;
    this.held.add(routeName);
    this.log.debug('hold', { route: routeName });
  }

  async release(routeName: string): Promise<void> {
    this.held.delete(routeName);
    this.last.delete(routeName);
    this.log.debug('release', { route: routeName });
  }
}
