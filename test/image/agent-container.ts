/**
 * The agent image running as a long-lived podman container, its log collected, stoppable with SIGTERM as the kubelet
 * would; and a deadline-bound wait for a condition that fails early, with the log, when the container dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { RUNC, type Podman } from './podman.js';
import type { DerivedRun } from './run-flags.js';

/** A running agent container. */
export class AgentContainer {
  private output = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly podman: Podman,
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code) => {
        this.exitCode = code;
        resolve(code);
      }),
    );
  }

  /** Starts `podman run --name NAME OPTIONS IMAGE ARGS` in the foreground (so its log streams here). */
  static start(podman: Podman, run: DerivedRun, name: string): AgentContainer {
    const [verb, ...rest] = run.options;
    const args = ['--runtime', RUNC, verb, '--name', name, ...rest, run.image, ...run.args];
    const child = spawn('podman', args, { env: { ...process.env, ...podman.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new AgentContainer(podman, name, child);
  }

  /** Everything the agent (and podman) wrote so far. */
  get log(): string {
    return this.output;
  }

  /** The exit code once the container has stopped, else undefined. */
  get exit(): number | null | undefined {
    return this.exitCode;
  }

  /** SIGTERM (podman stop), then SIGKILL after `graceSeconds`; resolves with the exit code. */
  async stop(graceSeconds = 10): Promise<number | null> {
    if (this.exitCode === undefined) await this.podman.run(['stop', '--time', String(graceSeconds), this.name]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(r, 20_000, 'timeout')));
    const code = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (code === 'timeout') {
      await this.podman.run(['rm', '--force', this.name]);
      this.child.kill('SIGKILL');
      return this.exited;
    }
    return code;
  }

  /**
   * Polls `check` until it returns a value (not undefined), the deadline passes, or the container exits; the error
   * says what was awaited, the last observation and the log's tail.
   */
  async waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs: number, observe?: () => Promise<string>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (this.exitCode !== undefined || Date.now() > deadline) {
        const why = this.exitCode !== undefined ? `the agent container exited (${this.exitCode})` : `${timeoutMs} ms passed`;
        const seen = observe ? `\nlast seen: ${await observe()}` : '';
        throw new Error(`waiting for ${what}: ${why}${seen}\nagent log (tail):\n${this.output.split('\n').slice(-30).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
