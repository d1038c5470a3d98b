/**
 * A trigger on `ip monitor route rule`: when someone deletes a route or rule kroute owns, or the node's own default
 * route changes, the reconciler resyncs. `ip monitor` prints text only; it is a trigger, the state is re-read with
 * -json. Restarted with a delay if it exits; `stop()` ends it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '../log.js';

/** Options of the route monitor. */
export interface RouteMonitorProps {
  readonly protocol: number;
  readonly netns?: string;
  readonly log: Logger;
  /** Called for each line that matters. */
  readonly onChange: (line: string) => void;
  /** @default 1000 */
  readonly restartDelayMs?: number;
}

/** True for a monitor line that should trigger a resync. */
export function monitorLineMatters(line: string, protocol: number): boolean {
  const owned = new RegExp(`\\bproto ${protocol}\\b`).test(line);
  if (line.startsWith('Deleted ') && owned) return true;
  // The node's own default route moved: host facts (keep-routes, table 135) depend on it.
  return !owned && /^(Deleted )?default /.test(line);
}

/** Watches routing changes with `ip monitor`. */
export class RouteMonitor {
  private child?: ChildProcess;
  private timer?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly props: RouteMonitorProps) {}

  start(): void {
    if (this.stopped || this.child) return;
    const args = [...(this.props.netns ? ['-n', this.props.netns] : []), '-N', 'monitor', 'route', 'rule'];
    const child = spawn('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.on('error', (e) => this.props.log.warn('ip monitor failed to start', { error: e }));
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (monitorLineMatters(line, this.props.protocol)) this.props.onChange(line);
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
