/**
 * Network namespaces owned by one test run: the only place the lab touches the kernel. Every namespace is named
 * `<prefix>-<role>` with a per-run prefix, a pid marker under /run/kroute-lab says which process owns the prefix,
 * and a run that finds a marker whose process is dead removes what that crashed run left behind. Every command
 * targets a namespace this run made (`ip -n`, `ip netns exec`), never the machine's own: veth pairs are created
 * inside their first namespace and their peer is placed directly in the second.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Output of a finished command. */
export interface Exec {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Options of one command. */
export interface RunOptions {
  /** Written to the command's stdin. */
  readonly input?: string;
  /** @default 60000 */
  readonly timeoutMs?: number;
}

/** Runs a command (argument array, no shell); never throws on a non-zero exit. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Exec> {
  return new Promise((resolve) => {
    const child = execFile(cmd, [...args], { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const raw = err ? (err as { code?: unknown }).code : 0;
      const code = typeof raw === 'number' ? raw : err ? 127 : 0;
      resolve({ stdout: String(stdout), stderr: String(stderr) + (err && typeof raw !== 'number' ? `\n${err.message}` : ''), code });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs a command and throws with its stderr when it fails. */
export async function must(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** True when `cmd` is on PATH. */
export async function hasCommand(cmd: string): Promise<boolean> {
  return (await run('sh', ['-c', 'command -v "$1"', 'sh', cmd])).code === 0;
}

/** A network namespace created by a test run. */
export class Netns {
  constructor(readonly name: string) {}

  /** Runs a command inside the namespace. */
  exec(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<Exec> {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], opts);
  }

  /** Runs a command inside the namespace; throws when it fails. */
  async must(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
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

  /** Many `ip` commands (one a line, without the leading `ip`) in one process inside the namespace. */
  async ipBatch(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const r = await run('ip', ['-n', this.name, '-batch', '-'], { input: `${lines.join('\n')}\n` });
    if (r.code !== 0) throw new Error(`[${this.name}] ip -batch failed (${r.code}): ${r.stderr.trim()}\n  ${lines.join('\n  ')}`);
  }

  /** Writes a sysctl inside the namespace (e.g. `net.ipv4.ip_forward`, `1`). */
  async sysctl(key: string, value: string): Promise<void> {
    await this.must('sysctl', ['-q', '-w', `${key}=${value}`]);
  }

  /** Starts a long-running process inside the namespace; the caller (or the lab that tracks it) stops it. */
  spawn(cmd: string, args: readonly string[]): ChildProcess {
    return spawn('ip', ['netns', 'exec', this.name, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  }
}

/** The path of a namespace's handle, for `podman --network ns:PATH` and `nsenter --net=PATH`. */
export function netnsPath(ns: Netns): string {
  return `/run/netns/${ns.name}`;
}

/** Where each run's pid marker lives: `<prefix>.pid` holds the pid of the process that owns the prefix. */
export const MARKER_DIR = process.env.KROUTE_LAB_MARKERS ?? '/run/kroute-lab';
const PREFIX_RE = /^kr[0-9a-f]{4,8}$/;

/** A pid is alive while /proc has it (the lab runs on Linux, as root). */
const alive = (pid: number): boolean => existsSync(`/proc/${pid}`);

/** Kills every process inside the namespace, then deletes it. */
async function removeNamespace(name: string): Promise<void> {
  const r = await run('ip', ['netns', 'pids', name]);
  for (const pid of r.stdout.split('\n').filter(Boolean)) await run('kill', ['-9', pid]);
  await run('ip', ['netns', 'del', name]);
}

/**
 * Removes what crashed runs left: for every marker whose process is gone, the namespaces with its prefix. Markers
 * of live processes (another test file running at the same time) are left alone. Returns the namespaces removed.
 */
export async function sweepCrashedRuns(): Promise<string[]> {
  if (!existsSync(MARKER_DIR)) return [];
  const removed: string[] = [];
  const names = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
  for (const file of readdirSync(MARKER_DIR)) {
    const prefix = file.replace(/\.pid$/, '');
    if (!file.endsWith('.pid') || !PREFIX_RE.test(prefix)) continue;
    // Another run sweeping at the same time may have removed the marker since the folder was read: its run is gone.
    let text: string;
    try {
      text = readFileSync(join(MARKER_DIR, file), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    const pid = Number(text.trim());
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) continue;
    for (const n of names.filter((x) => x.startsWith(`${prefix}-`))) {
      await removeNamespace(n);
      removed.push(n);
    }
    rmSync(join(MARKER_DIR, file), { force: true });
  }
  return removed;
}

function inode(path: string): number {
  return statSync(path).ino;
}

/** A set of namespaces owned by one test run, all removed by `cleanup()` (or by a later run if this one crashes). */
export class NetnsLab {
  /** Short random prefix, e.g. `kr3f9a`; interface names stay under the kernel's 15 characters. */
  readonly prefix: string;
  private readonly namespaces: Netns[] = [];
  private marked = false;

  constructor(prefix = `kr${randomBytes(2).toString('hex')}`) {
    if (process.getuid?.() !== 0) throw new Error('network-namespace tests need root');
    if (!PREFIX_RE.test(prefix)) throw new Error(`lab prefix ${JSON.stringify(prefix)} is not kr + 4 to 8 hex digits`);
    this.prefix = prefix;
  }

  /** The namespaces made so far, in order. */
  get all(): readonly Netns[] {
    return this.namespaces;
  }

  private async mark(): Promise<void> {
    if (this.marked) return;
    await sweepCrashedRuns();
    mkdirSync(MARKER_DIR, { recursive: true });
    writeFileSync(join(MARKER_DIR, `${this.prefix}.pid`), `${process.pid}\n`);
    this.marked = true;
  }

  /** Creates the namespaces `<prefix>-<role>` (loopback up), in one `ip -batch`. */
  async addMany(roles: readonly string[]): Promise<Netns[]> {
    await this.mark();
    const made = roles.map((role) => new Netns(`${this.prefix}-${role}`));
    for (const ns of made) if (this.namespaces.some((x) => x.name === ns.name)) throw new Error(`namespace ${ns.name} exists already`);
    const r = await run('ip', ['-batch', '-'], { input: made.map((ns) => `netns add ${ns.name}\n`).join('') });
    // Those that were made are this run's, even when a later one failed.
    for (const ns of made) if (existsSync(netnsPath(ns))) this.namespaces.push(ns);
    if (r.code !== 0) throw new Error(`ip netns add failed: ${r.stderr.trim()}`);
    await Promise.all(made.map((ns) => ns.ipBatch(['link set lo up'])));
    return made;
  }

  /** Creates one namespace named `<prefix>-<role>` with loopback up. */
  async add(role: string): Promise<Netns> {
    return (await this.addMany([role]))[0] as Netns;
  }

  /** Throws unless `ns` is a namespace this run made, and not the machine's own. */
  assertOwned(ns: Netns): void {
    if (!this.namespaces.some((x) => x.name === ns.name)) throw new Error(`refusing to touch ${ns.name}: not a namespace of this lab (${this.prefix}-*)`);
    const path = netnsPath(ns);
    if (!existsSync(path)) throw new Error(`refusing to touch ${ns.name}: ${path} does not exist`);
    const target = inode(path);
    for (const own of ['/proc/1/ns/net', '/proc/self/ns/net']) {
      if (existsSync(own) && inode(own) === target) throw new Error(`refusing to touch ${ns.name}: it is the machine's own network namespace (${own})`);
    }
  }

  /** Connects two of this lab's namespaces with a veth pair, naming each end; both ends are brought up. */
  async link(a: Netns, aIf: string, b: Netns, bIf: string): Promise<void> {
    this.assertOwned(a);
    this.assertOwned(b);
    await a.ipBatch([`link add name ${aIf} type veth peer name ${bIf} netns ${b.name}`, `link set dev ${aIf} up`]);
    await b.ipBatch([`link set dev ${bIf} up`]);
  }

  /** Removes every namespace this lab created (their veth ends go with them) and its marker. */
  async cleanup(): Promise<void> {
    for (const ns of this.namespaces.splice(0).reverse()) await removeNamespace(ns.name);
    if (this.marked) rmSync(join(MARKER_DIR, `${this.prefix}.pid`), { force: true });
    this.marked = false;
  }
}
