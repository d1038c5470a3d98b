/**
 * A long-running process inside a network namespace (etcd, kube-apiserver) with its output in a log file, so a
 * failure can say why, and a stop that waits for the exit (SIGKILL after a deadline).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Netns } from '../net/netns.js';

/** A started process; `exited` settles when it ends for any reason. */
export class Daemon {
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  /** Starts `cmd args` in `netns`, stdout and stderr appended to `logFile`. */
  constructor(
    readonly name: string,
    netns: Netns,
    cmd: string,
    args: readonly string[],
    readonly logFile: string,
  ) {
    const log = createWriteStream(logFile, { flags: 'a' });
    // `ip netns exec` execs the command, so this pid is the daemon's own and signals reach it directly.
    this.child = spawn('ip', ['netns', 'exec', netns.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.pipe(log, { end: false });
    this.child.stderr?.pipe(log, { end: false });
    this.exited = new Promise((resolve) => {
      this.child.once('error', () => resolve(null));
      this.child.once('close', (code) => {
        log.end();
        resolve(code);
      });
    });
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines of the log, for error messages. */
  async logTail(lines = 30): Promise<string> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Sends `signal` and waits for the exit; SIGKILL when it has not exited after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), graceMs);
    });
    const r = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (r === 'late') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
