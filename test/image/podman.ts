/**
 * podman as this machine needs it: runc (crun fails here on hybrid cgroups), a containers.conf that sets rlimits podman
 * can apply and no default sysctls (podman would otherwise write `net.ipv4.ping_group_range=0 0` into a namespace joined
 * with `--network ns:` and leave it there), and never a registry pull. See /work/shared/NOTES-image.md, traps 1–3.
 */
import { execFile } from 'node:child_process';
import { access, constants, mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The OCI runtime every podman call uses. */
export const RUNC = '/usr/sbin/runc';

/** The Debian packages a machine needs to build and run the image (CI installs exactly these). */
export const REQUIRED_PACKAGES = ['podman', 'runc'] as const;

/** Output of a finished command. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

/** Options of one command. */
export interface CommandOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** @default 600000 */
  readonly timeoutMs?: number;
}

/** Runs a command (argument array, no shell); never throws on a non-zero exit. */
export function command(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      [...args],
      { cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 256 << 20 },
      (err, stdout, stderr) => {
        const raw = err === null ? 0 : (err as { code?: unknown }).code;
        const code = typeof raw === 'number' ? raw : err === null ? 0 : 127;
        const extra = err !== null && typeof raw !== 'number' ? `\n${err.message}` : '';
        resolve({ stdout: String(stdout), stderr: String(stderr) + extra, code });
      },
    );
  });
}

/** Runs a command and throws with its stderr when it fails. */
export async function mustRun(cmd: string, args: readonly string[], opts: CommandOptions = {}): Promise<string> {
  const r = await command(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** `${XDG_CACHE_HOME:-~/.cache}/kroute/image`: the base rootfs, the Node tarball and containers.conf live here. */
export function imageCacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg && xdg !== '' ? xdg : join(homedir(), '.cache'), 'kroute', 'image');
}

const CONTAINERS_CONF = `# Written by kroute's test/image/podman.ts; see NOTES-image.md traps 1-3.
[containers]
# podman's default rlimits cannot be set here ("error setting rlimit type 7").
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
# No ping_group_range written into a joined network namespace: it would outlive the container and hide ICMP bugs.
default_sysctls = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`;

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function onPath(cmd: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    if (dir !== '' && (await isExecutable(join(dir, cmd)))) return true;
  }
  return false;
}

/** Throws one message naming every missing tool and the command that installs it. */
export async function checkPrerequisites(extra: readonly { cmd: string; pkg: string }[] = []): Promise<void> {
  const tools = [
    { cmd: 'podman', pkg: 'podman' },
    { cmd: 'runc', pkg: 'runc' },
    { cmd: 'apt-get', pkg: 'apt' },
    { cmd: 'dpkg-deb', pkg: 'dpkg' },
    { cmd: 'ldconfig', pkg: 'libc-bin' },
    ...extra,
  ];
  const missing: { cmd: string; pkg: string }[] = [];
  for (const t of tools) if (!(await onPath(t.cmd))) missing.push(t);
  if (missing.length === 0 && !(await isExecutable(RUNC))) missing.push({ cmd: RUNC, pkg: 'runc' });
  if (process.getuid?.() !== 0) {
    throw new Error('building and running the agent image needs root (rootful podman, network namespaces)');
  }
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.pkg))];
    throw new Error(
      `missing ${missing.map((m) => m.cmd).join(', ')}: install with\n  apt-get install -y --no-install-recommends ${pkgs.join(' ')}\n` +
        `(the image needs podman and runc from Debian's packages; crun does not work on this kind of machine)`,
    );
  }
}

/** Calls podman with runc and kroute's containers.conf. */
export class Podman {
  private constructor(private readonly confPath: string) {}

  /** Checks the prerequisites and writes containers.conf into the cache. */
  static async create(extra: readonly { cmd: string; pkg: string }[] = []): Promise<Podman> {
    await checkPrerequisites(extra);
    const dir = imageCacheDir();
    await mkdir(dir, { recursive: true });
    const confPath = join(dir, 'containers.conf');
    await writeFile(confPath, CONTAINERS_CONF);
    return new Podman(confPath);
  }

  /** The environment every podman call gets (also for callers that spawn podman themselves). */
  get env(): Record<string, string> {
    return { CONTAINERS_CONF: this.confPath };
  }

  /** `podman --runtime runc ARGS`; never throws on a non-zero exit. */
  run(args: readonly string[], opts: Omit<CommandOptions, 'env'> = {}): Promise<CommandResult> {
    return command('podman', ['--runtime', RUNC, ...args], { ...opts, env: this.env });
  }

  /** Like `run`, throwing with podman's stderr on failure. */
  async must(args: readonly string[], opts: Omit<CommandOptions, 'env'> = {}): Promise<string> {
    const r = await this.run(args, opts);
    if (r.code !== 0) throw new Error(`podman ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** A label of a local image, or undefined when the image or the label does not exist. */
  async imageLabel(image: string, label: string): Promise<string | undefined> {
    const r = await this.run(['image', 'inspect', '--format', '{{json .Labels}}', image]);
    if (r.code !== 0) return undefined;
    const labels = JSON.parse(r.stdout.trim() || 'null') as Record<string, string> | null;
    return labels?.[label];
  }

  /** The uncompressed size of a local image in bytes. */
  async imageSize(image: string): Promise<number> {
    return Number((await this.must(['image', 'inspect', '--format', '{{.Size}}', image])).trim());
  }
}
