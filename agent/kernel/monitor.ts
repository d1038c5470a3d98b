/**
 * Events from `ip monitor route rule address`: when someone deletes a route or rule kroute owns, the kernel
 * adapter's cached view is dropped and the reconciler resyncs; when another route or an address changes (the
 * node's own default route, a connected prefix, the public interface's addresses), the cached host facts are
 * dropped too. kroute's own additions are ignored: the adapter knows what it wrote. `ip monitor` prints text only;
 * it is a trigger, the state is re-read with -json. Restarted with a delay if it exits; `stop()` ends it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Ownership } from '../../core/plan/index.js';
import type { Logger } from '../log.js';

/** Options of the route monitor. */
export interface RouteMonitorProps {
  /** kroute's ownership (its protocol tells its own routes from everybody else's). */
  readonly ownership: Ownership;
  readonly netns?: string;
  readonly log: Logger;
  /** Called for each line that matters, with what it makes stale. */
  readonly onChange: (line: string, stale: MonitorStale) => void;
  /** @default 1000 */
  readonly restartDelayMs?: number;
}

/** What a monitor line makes stale: the kernel adapter's view, the host facts, or neither (undefined). */
export interface MonitorStale {
  readonly kernel: boolean;
  readonly host: boolean;
}

/** Classifies one `ip -N monitor route rule address` line; undefined when it needs no resync. */
export function classifyMonitorLine(line: string, protocol: number): MonitorStale | undefined {
  // Continuation lines (a multipath route's `nexthop via ...`) belong to the line before.
  if (/^\s/.test(line) || line.trim() === '') return undefined;
  const owned = new RegExp(`\\b(proto|protocol) ${protocol}\\b`).test(line);
  const deleted = line.startsWith('Deleted ');
  if (owned) return deleted ? { kernel: true, host: false } : undefined;
  // An address line (`2: eth0    inet 203.0.113.10/24 ...`): the public interface's addresses and connected prefixes.
  if (/^(Deleted )?\d+: \S+\s+inet6? /.test(line)) return { kernel: false, host: true };
  // Local and broadcast routes come and go with addresses (already handled); multicast and IPv6 link-local are noise.
  if (/^(Deleted )?(local|broadcast|multicast|anycast) /.test(line) || /^(Deleted )?fe80:/.test(line)) return undefined;
  // Someone else's route or rule: it may collide with a desired one, or be the node's own default route or a
  // connected prefix (host facts: keep-routes, table 135).
  return { kernel: true, host: true };
}

/** True for a monitor line that should trigger a resync. */
export function monitorLineMatters(line: string, protocol: number): boolean {
  return classifyMonitorLine(line, protocol) !== undefined;
}

/** Watches routing changes with `ip monitor`. */
export class RouteMonitor {
  private child?: ChildProcess;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly props: RouteMonitorProps) {}

  start(): void {
    if (this.stopped || this.child) return;
    const args = [...(this.props.netns ? ['-n', this.props.netns] : []), '-N', 'monitor', 'route', 'rule', 'address'];
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.on('error', (e) => this.props.log.warn('ip monitor failed to start', { error: e }));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const stale = classifyMonitorLine(line, this.props.ownership.protocol);
      if (stale) this.props.onChange(line, stale);
    });
    child.stderr.on('data', (d: Buffer) => this.props.log.debug('ip monitor stderr', { text: d.toString().trim() }));
    child.on('close', (code) => {
      this.child = undefined;
      if (this.stopped) return;
      this.props.log.warn('ip monitor exited; restarting', { code });
      this.timer = setTimeout(() => this.start(), this.props.restartDelayMs ?? 1000);
    });
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const child = this.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('close', () => resolve());
      child.kill('SIGTERM');
    });
  }
}
