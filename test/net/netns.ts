/**
 * Network-namespace primitives for tests: namespaces, veth pairs, addresses, commands inside a namespace.
 * Every name carries a per-run prefix so parallel runs and leftovers never collide; `cleanup()` removes all.
 * Traffic stays inside the namespaces created here: nothing reaches the machine's own network.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Output of a finished command. */
export interface Exec {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Runs a command (argument array, no shell); never throws on a non-zero exit. */
export async function run(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Exec> {
  return new Promise((resolve) => {
    const child = execFile(cmd, [...args], { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr), code });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(cmd: string, args: readonly string[], opts: { input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** A network namespace created by a test. */
export class Netns {
  constructor(readonly name: string) {}

  /** Runs a command inside the namespace. */
  exec(cmd: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Exec> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** Runs a command inside the namespace; throws when it fails. */
  async must(cmd: string, args: readonly string[], opts: { input?: string } = {}): Promise<string> {
    const r = await this.exec(cmd, args, opts);
    if (r.code !== 0) throw new Error(`[${this.name}] ${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** `ip -n NS ...`, throwing on failure. */
  ip(...args: string[]): Promise<string> {
    return must('ip', ['-n', this.name, ...args]);
  }

  /** `ip -n NS -json ...` parsed. */
  async ipJson<T = unknown>(...args: string[]): Promise<T> {
    const out = await must('ip', ['-n', this.name, '-json', ...args]);
    return JSON.parse(out.trim() === '' ? '[]' : out) as T;
  }

  /** Writes a sysctl inside the namespace (e.g. `net.ipv4.ip_forward`, `1`). */
  async sysctl(key: string, value: string): Promise<void> {
    await this.must('sysctl', ['-q', '-w', `${key}=${value}`]);
  }

  /** Starts a long-running process inside the namespace; the caller stops it. */
  spawn(cmd: string, args: readonly string[]): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
}

/** A set of namespaces owned by one test run, all removed by `cleanup()`. */
export class NetnsLab {
  /** Short random prefix, e.g. `kr3f9a`; interface names stay under the kernel's 15 characters. */
  readonly prefix: string;
  private readonly namespaces: Netns[] = [];

  constructor(prefix = `kr${randomBytes(2).toString('hex')}`) {
    if (process.getuid?.() !== 0) throw new Error('network-namespace tests need root');
    this.prefix = prefix;
  }

  /** Creates a namespace named `<prefix>-<role>` with loopback up. */
  async add(role: string): Promise<Netns> {
    const ns = new Netns(`${this.prefix}-${role}`);
    await must('ip', ['netns', 'add', ns.name]);
    this.namespaces.push(ns);
    await ns.ip('link', 'set', 'lo', 'up');
    return ns;
  }

  /** Connects two namespaces with a veth pair, naming each end; both ends are brought up. */
  async link(a: Netns, aIf: string, b: Netns, bIf: string): Promise<void> {
    const tmpA = `${this.prefix}${randomBytes(2).toString('hex')}a`;
    const tmpB = `${this.prefix}${randomBytes(2).toString('hex')}b`;
    await must('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
    await must('ip', ['link', 'set', tmpA, 'netns', a.name, 'name', aIf]);
    await must('ip', ['link', 'set', tmpB, 'netns', b.name, 'name', bIf]);
    await a.ip('link', 'set', aIf, 'up');
    await b.ip('link', 'set', bIf, 'up');
  }

  /** Removes every namespace this lab created (their veth ends go with them). */
  async cleanup(): Promise<void> {
    for (const ns of this.namespaces.splice(0).reverse()) {
      await run('ip', ['netns', 'pids', ns.name]).then(async (r) => {
        for (const pid of r.stdout.split('\n').filter(Boolean)) await run('kill', ['-9', pid]);
      });
      await run('ip', ['netns', 'del', ns.name]);
    }
  }
}

/** The path of a namespace's handle, for `podman --network ns:PATH` and `nsenter --net=PATH`. */
export function netnsPath(ns: Netns): string {
  return `/run/netns/${ns.name}`;
}

/** Runs a function with an error message that says which prerequisite is missing. */
export async function hasCommand(cmd: string): Promise<boolean> {
  try {
    await execFileP('sh', ['-c', `command -v "$1"`, 'sh', cmd]);
    return true;
  } catch {
    return false;
  }
}
