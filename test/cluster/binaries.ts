/**
 * The control plane's binaries (etcd, kube-apiserver, kubectl), built from the wrapper modules in
 * test/cluster/go/ with plain `go build` and cached outside the repository under
 * `${XDG_CACHE_HOME:-~/.cache}/kroute/bin/<key>/`, where the key hashes both modules' go.mod and go.sum, the Go
 * version and the build recipe. A lock file keeps two test processes from building the same key at once; the
 * build goes to a temporary folder renamed into place, so a half-built folder is never mistaken for a cache hit.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

/** Where the wrapper modules live (works from the TypeScript sources and from lib/). */
export const GO_MODULES_DIR = join(dirname(fileURLToPath(import.meta.url)).replace(/\/lib\/test\//, '/test/'), 'go');

/** Bumped when the build commands below change, so the cache key changes with them. */
const RECIPE = 'v1';

/** Paths of the built binaries. */
export interface ClusterBinaries {
  /** The cache folder holding all three. */
  readonly dir: string;
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubectl: string;
  /** The Kubernetes version the binaries report, from the kube wrapper's go.mod (e.g. `v1.34.10`). */
  readonly kubernetesVersion: string;
}

/** Options of {@link ensureBinaries}. */
export interface EnsureBinariesOptions {
  /** Called with progress lines (build start, cache hit, timings). @default no output */
  readonly log?: (line: string) => void;
  /** How long to wait for another process's build before giving up. @default 30 minutes */
  readonly lockWaitMs?: number;
}

/** Output of a finished process. */
export interface Exit {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `go` with these arguments in `cwd`; resolves its exit code and output (never rejects on a non-zero exit). */
export function runGo(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn('go', [...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The environment every `go` command runs with: no toolchain switch, no cgo (static binaries), no VCS stamping. */
export function goEnv(): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false -mod=readonly' };
}

/** The cache root: `${XDG_CACHE_HOME:-~/.cache}/kroute/bin`. */
export function binCacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'kroute', 'bin');
}

/** The `go` version (`go1.26.8`), or undefined when Go is not installed. */
export async function goVersion(): Promise<string | undefined> {
  try {
    const r = await runGo(['env', 'GOVERSION'], GO_MODULES_DIR, goEnv());
    return r.code === 0 ? r.stdout.trim() : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

async function kubernetesVersionOf(): Promise<string> {
  const mod = await readFile(join(GO_MODULES_DIR, 'kube', 'go.mod'), 'utf8');
  const m = /^require k8s\.io\/kubernetes (v\d+\.\d+\.\d+)$/m.exec(mod);
  if (!m?.[1]) throw new Error(`${GO_MODULES_DIR}/kube/go.mod: no "require k8s.io/kubernetes vX.Y.Z" line`);
  return m[1];
}

/** The cache key: hash of both wrapper modules' go.mod and go.sum, the Go version and the recipe. */
export async function binariesKey(go: string): Promise<string> {
  const h = createHash('sha256').update(`${RECIPE}\n${go}\n`);
  for (const mod of ['kube', 'etcd']) {
    for (const f of ['go.mod', 'go.sum']) h.update(`${mod}/${f}\n`).update(await readFile(join(GO_MODULES_DIR, mod, f)));
  }
  return h.digest('hex').slice(0, 16);
}

function binariesIn(dir: string, kubernetesVersion: string): ClusterBinaries {
  return { dir, etcd: join(dir, 'etcd'), kubeApiserver: join(dir, 'kube-apiserver'), kubectl: join(dir, 'kubectl'), kubernetesVersion };
}

function complete(b: ClusterBinaries): boolean {
  return [b.etcd, b.kubeApiserver, b.kubectl].every((p) => existsSync(p));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM means the process exists but belongs to someone else: still alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the build lock (a file created with O_EXCL holding the builder's pid). A lock whose pid is gone is stale
 * (a killed test run) and is taken over. Returns the release function.
 */
export async function lock(path: string, waitMs: number, log: (l: string) => void): Promise<() => Promise<void>> {
  const deadline = Date.now() + waitMs;
  let said = false;
  for (;;) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    if (holder && !alive(holder)) {
      log(`removing stale build lock ${path} (pid ${holder} is gone)`);
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${waitMs} ms waiting for the build lock ${path} (held by pid ${holder || '?'})`);
    if (!said) log(`waiting for another process (pid ${holder || '?'}) to finish building the control-plane binaries`);
    said = true;
    // Polling a file lock: no event to wait for across processes; 1 s is short next to a build of minutes.
    await delay(1000);
  }
}

/**
 * Returns the cached binaries, building them first when the cache has none for the current key.
 * Throws when Go is missing or a build fails (with the tail of Go's output).
 */
export async function ensureBinaries(opts: EnsureBinariesOptions = {}): Promise<ClusterBinaries> {
  const log = opts.log ?? (() => undefined);
  const go = await goVersion();
  if (!go) throw new Error('Go is not installed (needed to build etcd, kube-apiserver and kubectl for the API-server tests)');
  const k8s = await kubernetesVersionOf();
  const key = await binariesKey(go);
  const root = binCacheRoot();
  const dir = join(root, key);
  const found = binariesIn(dir, k8s);
  if (complete(found)) return found;

  await mkdir(root, { recursive: true });
  const release = await lock(join(root, `${key}.lock`), opts.lockWaitMs ?? 30 * 60_000, log);
  try {
    if (complete(found)) return found; // built by the process we waited for
    const tmp = join(root, `${key}.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const started = Date.now();
    log(`building kube-apiserver and kubectl ${k8s} and etcd with ${go} into ${dir} (several minutes the first time)`);
    const [major, minor] = k8s.slice(1).split('.');
    // -s -w drop the symbol tables (about a third of the size); the -X flags give `kubectl version` a real version.
    const kubeLdflags = ['-s', '-w', `-X k8s.io/component-base/version.gitVersion=${k8s}`,
      `-X k8s.io/component-base/version.gitMajor=${major}`, `-X k8s.io/component-base/version.gitMinor=${minor}`].join(' ');
    const builds: [string, string[]][] = [
      ['kube', ['build', '-trimpath', '-ldflags', kubeLdflags, '-o', `${tmp}/`, 'k8s.io/kubernetes/cmd/kube-apiserver', 'k8s.io/kubernetes/cmd/kubectl']],
      ['etcd', ['build', '-trimpath', '-ldflags', '-s -w', '-o', join(tmp, 'etcd'), 'go.etcd.io/etcd/server/v3']],
    ];
    for (const [mod, args] of builds) {
      const r = await runGo(args, join(GO_MODULES_DIR, mod), goEnv());
      if (r.code !== 0) {
        await rm(tmp, { recursive: true, force: true });
        throw new Error(`go ${args.join(' ')} (in test/cluster/go/${mod}) failed (${r.code}):\n${r.stderr.split('\n').slice(-40).join('\n')}`);
      }
    }
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    log(`built the control-plane binaries in ${Math.round((Date.now() - started) / 1000)} s`);
    return found;
  } finally {
    await release();
  }
}
