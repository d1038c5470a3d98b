/**
 * Go-built binaries of the tests, one "family" per cache folder: the control plane (etcd, kube-apiserver,
 * kubectl), kube-controller-manager, the Pulumi CLI with its YAML language host, the Pulumi Kubernetes provider.
 * A family is data ({@link GoBinaryFamily}: wrapper modules under test/cluster/go/, packages, ldflags, tags); one
 * implementation ({@link ensureFamily}) builds it with plain `go build` and caches it outside the repository under
 * `${XDG_CACHE_HOME:-~/.cache}/kroute/bin/<key>/`, where the key hashes the family's go.mod and go.sum files, the Go
 * version and the family's recipe. A lock file keeps two test processes from building the same key at once; the
 * build goes to a temporary folder renamed into place, so a half-built folder is never mistaken for a cache hit.
 *
 * Adding a family is a few lines: a wrapper module (go.mod, go.sum, tools.go) and
 *
 *   export const HELM: GoBinaryFamily = { name: 'helm', recipe: 'helm/v1', modules: ['helm'],
 *     builds: [{ module: 'helm', packages: ['helm.sh/helm/v3/cmd/helm'], ldflags: ['-s', '-w'] }] };
 *   const { dir } = await ensureFamily(HELM);   // dir/helm
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';

/** Where the wrapper modules live (works from the TypeScript sources and from lib/). */
export const GO_MODULES_DIR = join(dirname(fileURLToPath(import.meta.url)).replace(/\/lib\/test\//, '/test/'), 'go');

/** One `go build` of a family. */
export interface GoBuild {
  /** Wrapper module folder under test/cluster/go/ the build runs in (unless `prepare` returns another folder). */
  readonly module: string;
  /** Packages to build; every `package main` becomes a binary named after its last path element. */
  readonly packages: readonly string[];
  /** `-ldflags`, one flag or `-X name=value` per item. @default none */
  readonly ldflags?: readonly string[];
  /** Build tags. @default none */
  readonly tags?: readonly string[];
  /** Output file name when there is one package whose last path element is not the binary's name (etcd's `v3`). */
  readonly output?: string;
  /**
   * Runs before the build, in a scratch folder; returns the folder `go build` runs in (for sources that cannot be
   * built through a wrapper module, such as a provider that generates embedded files first). @default the module
   */
  readonly prepare?: (ctx: PrepareContext) => Promise<string>;
}

/** What {@link GoBuild.prepare} gets. */
export interface PrepareContext {
  /** The wrapper module's folder. */
  readonly moduleDir: string;
  /** An empty scratch folder, removed after the build. */
  readonly scratch: string;
  /** Runs `go` with the build environment; throws with Go's output when it fails. */
  go(args: readonly string[], cwd: string, env?: NodeJS.ProcessEnv): Promise<string>;
}

/** A set of binaries built and cached together. */
export interface GoBinaryFamily {
  /** For messages (`pulumi`, `control-plane`). */
  readonly name: string;
  /**
   * Part of the cache key: bump it when the builds below change. Distinct per family, so two families with the
   * same modules (none today) still get two folders.
   */
  readonly recipe: string;
  /** Wrapper module folders whose go.mod and go.sum are hashed into the key, in this order. */
  readonly modules: readonly string[];
  readonly builds: readonly GoBuild[];
  /** Rough cold build time, for the log line. @default 'several minutes' */
  readonly expected?: string;
}

/** A built family: its cache folder and the path of each binary by file name. */
export interface BuiltFamily {
  readonly dir: string;
  readonly key: string;
  /** Binary file name → absolute path. */
  readonly bin: Readonly<Record<string, string>>;
}

/** Options of {@link ensureFamily} and {@link ensureBinaries}. */
export interface EnsureBinariesOptions {
  /** Called with progress lines (build start, cache hit, timings). @default no output */
  readonly log?: (line: string) => void;
  /** How long to wait for another process's build before giving up. @default 40 minutes */
  readonly lockWaitMs?: number;
}

/** Output of a finished process. */
export interface Exit {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

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
export function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: 'local', CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false -mod=readonly', ...extra };
}

async function mustGo(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await runGo(args, cwd, goEnv(env));
  if (r.code !== 0) {
    const where = cwd.startsWith(GO_MODULES_DIR) ? `test/cluster/go${cwd.slice(GO_MODULES_DIR.length)}` : cwd;
    throw new Error(`go ${args.join(' ')} (in ${where}) failed (${r.code}):\n${r.stderr.split('\n').slice(-40).join('\n')}`);
  }
  return r.stdout;
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

/** The cache key of a family: hash of its recipe, the Go version and its modules' go.mod and go.sum. */
export async function familyKey(family: GoBinaryFamily, go: string): Promise<string> {
  const h = createHash('sha256').update(`${family.recipe}\n${go}\n`);
  for (const mod of family.modules) {
    for (const f of ['go.mod', 'go.sum']) h.update(`${mod}/${f}\n`).update(await readFile(join(GO_MODULES_DIR, mod, f)));
  }
  return h.digest('hex').slice(0, 16);
}

/** File names a family's builds produce. */
export function familyBinaries(family: GoBinaryFamily): string[] {
  return family.builds.flatMap((b) => (b.output ? [b.output] : b.packages.map((p) => basename(p))));
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
async function lock(path: string, what: string, waitMs: number, log: (l: string) => void): Promise<() => Promise<void>> {
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
    if (!said) log(`waiting for another process (pid ${holder || '?'}) to finish building ${what}`);
    said = true;
    // Polling a file lock: no event to wait for across processes; 1 s is short next to a build of minutes.
    await delay(1000);
  }
}

function builtIn(dir: string, key: string, names: readonly string[]): BuiltFamily {
  return { dir, key, bin: Object.fromEntries(names.map((n) => [n, join(dir, n)])) };
}

/**
 * Returns the family's cached binaries, building them first when the cache has none for the current key.
 * Throws when Go is missing or a build fails (with the tail of Go's output).
 */
export async function ensureFamily(family: GoBinaryFamily, opts: EnsureBinariesOptions = {}): Promise<BuiltFamily> {
  const log = opts.log ?? (() => undefined);
  const go = await goVersion();
  if (!go) throw new Error(`Go is not installed (needed to build ${familyBinaries(family).join(', ')} for the tests)`);
  const key = await familyKey(family, go);
  const root = binCacheRoot();
  const dir = join(root, key);
  const names = familyBinaries(family);
  const found = builtIn(dir, key, names);
  const complete = () => names.every((n) => existsSync(join(dir, n)));
  if (complete()) return found;

  await mkdir(root, { recursive: true });
  const release = await lock(join(root, `${key}.lock`), `the ${family.name} binaries`, opts.lockWaitMs ?? 40 * 60_000, log);
  try {
    if (complete()) return found; // built by the process we waited for
    const tmp = join(root, `${key}.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const started = Date.now();
    log(`building ${names.join(', ')} (${family.name}) with ${go} into ${dir} (${family.expected ?? 'several minutes'} the first time)`);
    try {
      for (const b of family.builds) await runBuild(b, tmp);
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      throw e;
    }
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    log(`built ${family.name} in ${Math.round((Date.now() - started) / 1000)} s`);
    return found;
  } finally {
    await release();
  }
}

async function runBuild(b: GoBuild, out: string): Promise<void> {
  const moduleDir = join(GO_MODULES_DIR, b.module);
  let cwd = moduleDir;
  let scratch: string | undefined;
  if (b.prepare) {
    scratch = `${out}.work`;
    await rm(scratch, { recursive: true, force: true });
    await mkdir(scratch, { recursive: true });
    cwd = await b.prepare({ moduleDir, scratch, go: (args, at, env) => mustGo(args, at, env) });
  }
  try {
    const args = ['build', '-trimpath'];
    if (b.tags?.length) args.push('-tags', b.tags.join(','));
    if (b.ldflags?.length) args.push('-ldflags', b.ldflags.join(' '));
    args.push('-o', b.output ? join(out, b.output) : `${out}/`, ...b.packages);
    await mustGo(args, cwd);
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/** The version a wrapper module requires of `module` (`v1.34.10`), read from its go.mod. */
export async function requiredVersion(wrapper: string, module: string): Promise<string> {
  const mod = await readFile(join(GO_MODULES_DIR, wrapper, 'go.mod'), 'utf8');
  const re = new RegExp(`^(?:require)?\\s*${module.replace(/[.]/g, '\\.')} (v[0-9][^\\s]*)`, 'm');
  const m = re.exec(mod);
  if (!m?.[1]) throw new Error(`${GO_MODULES_DIR}/${wrapper}/go.mod: no requirement of ${module}`);
  return m[1];
}

// ---------------------------------------------------------------------------------------------------------------
// The families.

/** `-X` flags that give Kubernetes binaries their real version (`kubectl version`, the apiserver's /version). */
function kubeVersionFlags(version: string): string[] {
  const [major, minor] = version.slice(1).split('.');
  return [`-X k8s.io/component-base/version.gitVersion=${version}`, `-X k8s.io/component-base/version.gitMajor=${major}`,
    `-X k8s.io/component-base/version.gitMinor=${minor}`];
}

/** The Kubernetes version of the wrappers, from test/cluster/go/kube/go.mod (kube and kcm require the same). */
export const KUBERNETES_VERSION = (await readFile(join(GO_MODULES_DIR, 'kube', 'go.mod'), 'utf8').then((t) => /^require k8s\.io\/kubernetes (v\d+\.\d+\.\d+)$/m.exec(t)?.[1])) ??
  'unknown';

/**
 * etcd, kube-apiserver and kubectl. Recipe `v1` and the module order are those of the first cache layout, so the
 * key (and a machine's cached build) is unchanged by the move to families.
 */
export const CONTROL_PLANE: GoBinaryFamily = {
  name: 'control-plane',
  recipe: 'v1',
  modules: ['kube', 'etcd'],
  expected: 'about 6 minutes',
  builds: [
    // -s -w drop the symbol tables (about a third of the size).
    { module: 'kube', packages: ['k8s.io/kubernetes/cmd/kube-apiserver', 'k8s.io/kubernetes/cmd/kubectl'], ldflags: ['-s', '-w', ...kubeVersionFlags(KUBERNETES_VERSION)] },
    { module: 'etcd', packages: ['go.etcd.io/etcd/server/v3'], ldflags: ['-s', '-w'], output: 'etcd' },
  ],
};

/**
 * kube-controller-manager, from its own wrapper (test/cluster/go/kcm: the same k8s.io/kubernetes and replaces as
 * kube/, with the go.sum its packages need), so adding it left the control-plane family's key unchanged.
 */
export const CONTROLLER_MANAGER: GoBinaryFamily = {
  name: 'controller-manager',
  recipe: 'kcm/v1',
  modules: ['kcm'],
  expected: 'about 5 minutes',
  builds: [{ module: 'kcm', packages: ['k8s.io/kubernetes/cmd/kube-controller-manager'], ldflags: ['-s', '-w', ...kubeVersionFlags(KUBERNETES_VERSION)] }],
};

/** The Pulumi CLI version, from test/cluster/go/pulumi/go.mod. */
export const PULUMI_VERSION = await requiredVersion('pulumi', 'github.com/pulumi/pulumi/pkg/v3');

/**
 * The Pulumi CLI and the YAML language host beside it (where the CLI looks for `pulumi-language-yaml`). The YAML
 * host has its own wrapper: pulumi-yaml 1.25.0 builds against pkg/sdk 3.206.0, not the CLI's 3.274.1.
 */
export const PULUMI: GoBinaryFamily = {
  name: 'pulumi',
  recipe: 'pulumi/v1',
  modules: ['pulumi', 'pulumi-yaml'],
  expected: 'about 15 minutes',
  builds: [
    {
      module: 'pulumi',
      packages: ['github.com/pulumi/pulumi/pkg/v3/cmd/pulumi'],
      // The tags of Pulumi's own release build (pure-Go user lookup; no gRPC tracing).
      tags: ['osusergo', 'grpcnotrace'],
      ldflags: ['-s', '-w', `-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=${PULUMI_VERSION}`],
    },
    { module: 'pulumi-yaml', packages: ['github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml'], tags: ['osusergo', 'grpcnotrace'], ldflags: ['-s', '-w'] },
  ],
};

/** The Kubernetes provider's version: the one the proxy serves (see test/cluster/go/pulumi-kubernetes/go.mod). */
export const PULUMI_KUBERNETES_VERSION = (await requiredVersion('pulumi-kubernetes', 'github.com/pulumi/pulumi-kubernetes/sdk/v4')).slice(1);

const K8S_PROVIDER_MODULE = 'github.com/pulumi/pulumi-kubernetes/provider/v4';
const K8S_SDK_MODULE = 'github.com/pulumi/pulumi-kubernetes/sdk/v4';

/**
 * Copies the provider's and the SDK's module zips (downloaded and verified against the wrapper's go.sum) side by
 * side, so the provider's own `replace …/sdk/v4 => ../sdk` resolves, and writes the two gitignored `//go:embed`
 * files with the provider's own `go generate`. Returns the provider folder.
 */
async function prepareKubernetesProvider(ctx: PrepareContext): Promise<string> {
  const pv = await requiredVersion('pulumi-kubernetes', K8S_PROVIDER_MODULE);
  const sv = await requiredVersion('pulumi-kubernetes', K8S_SDK_MODULE);
  const json = await ctx.go(['mod', 'download', '-json', `${K8S_PROVIDER_MODULE}@${pv}`, `${K8S_SDK_MODULE}@${sv}`], ctx.moduleDir);
  // `go mod download -json` prints one JSON object per module, back to back.
  const dirs = json.split(/\n}\n?/).filter((s) => s.trim()).map((s) => JSON.parse(`${s}\n}`) as { Path: string; Dir?: string; Error?: string });
  const dirOf = (path: string): string => {
    const m = dirs.find((d) => d.Path === path);
    if (!m?.Dir) throw new Error(`go mod download ${path}: ${m?.Error ?? 'no folder'}`);
    return m.Dir;
  };
  const provider = join(ctx.scratch, 'provider');
  const sdk = join(ctx.scratch, 'sdk');
  await cp(dirOf(K8S_PROVIDER_MODULE), provider, { recursive: true });
  await cp(dirOf(K8S_SDK_MODULE), sdk, { recursive: true });
  await makeWritable(ctx.scratch); // the module cache is read-only; go generate writes into cmd/
  await ctx.go(['generate', './cmd/pulumi-resource-kubernetes/'], provider, { VERSION: PULUMI_KUBERNETES_VERSION });
  return provider;
}

async function makeWritable(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    await chmod(p, e.isDirectory() ? 0o755 : ((await stat(p)).mode & 0o111 ? 0o755 : 0o644));
    if (e.isDirectory()) await makeWritable(p);
  }
}

/** pulumi-resource-kubernetes, built from tag v4.25.0's sources with its own go.mod (see docs/pulumi.md). */
export const PULUMI_KUBERNETES: GoBinaryFamily = {
  name: 'pulumi-kubernetes',
  recipe: 'pulumi-kubernetes/v1',
  modules: ['pulumi-kubernetes'],
  expected: 'about 20 minutes',
  builds: [{
    module: 'pulumi-kubernetes',
    packages: ['./cmd/pulumi-resource-kubernetes'],
    ldflags: ['-s', '-w', `-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${PULUMI_KUBERNETES_VERSION}`],
    prepare: prepareKubernetesProvider,
  }],
};

// ---------------------------------------------------------------------------------------------------------------
// The control plane's binaries, as the API-server tests have always asked for them.

/** Paths of the built control-plane binaries. */
export interface ClusterBinaries {
  /** The cache folder holding etcd, kube-apiserver and kubectl. */
  readonly dir: string;
  readonly etcd: string;
  readonly kubeApiserver: string;
  readonly kubectl: string;
  /** In its own cache folder (family {@link CONTROLLER_MANAGER}). */
  readonly kubeControllerManager: string;
  /** The Kubernetes version the binaries report, from the kube wrapper's go.mod (e.g. `v1.34.10`). */
  readonly kubernetesVersion: string;
}

/** The cache key of the control-plane family (etcd, kube-apiserver, kubectl). */
export async function binariesKey(go: string): Promise<string> {
  return familyKey(CONTROL_PLANE, go);
}

/** Returns the control plane's cached binaries (both families), building what the cache lacks. */
export async function ensureBinaries(opts: EnsureBinariesOptions = {}): Promise<ClusterBinaries> {
  const cp = await ensureFamily(CONTROL_PLANE, opts);
  const kcm = await ensureFamily(CONTROLLER_MANAGER, opts);
  const bin = (f: BuiltFamily, n: string): string => f.bin[n] ?? join(f.dir, n);
  return {
    dir: cp.dir,
    etcd: bin(cp, 'etcd'),
    kubeApiserver: bin(cp, 'kube-apiserver'),
    kubectl: bin(cp, 'kubectl'),
    kubeControllerManager: bin(kcm, 'kube-controller-manager'),
    kubernetesVersion: KUBERNETES_VERSION,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// kroute's own Go program: the forwarding prober (agent/probe, its own go.mod and go.sum; docs/safety.md).

/** The prober's module folder, relative to the wrapper modules' folder (families name modules that way). */
const PROBE_MODULE = '../../../agent/probe';

/** sha256 of the prober's Go sources: the family's key must change with them, not only with its go.mod and go.sum. */
async function goSourcesHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const f of (await readdir(dir)).filter((n) => n.endsWith('.go')).sort()) h.update(`${f}\n`).update(await readFile(join(dir, f)));
  return h.digest('hex').slice(0, 16);
}

/** kroute-probe, static (CGO_ENABLED=0), for the agent's tests and image (test/image/context.ts stages it). */
export const KROUTE_PROBE: GoBinaryFamily = {
  name: 'kroute-probe',
  recipe: `kroute-probe/v1/${await goSourcesHash(join(GO_MODULES_DIR, PROBE_MODULE))}`,
  modules: [PROBE_MODULE],
  expected: 'under a minute',
  builds: [{ module: PROBE_MODULE, packages: ['.'], output: 'kroute-probe', ldflags: ['-s', '-w'] }],
};

/** The path of the built kroute-probe, building it first when the cache has none for its sources. */
export async function ensureKrouteProbe(opts: EnsureBinariesOptions = {}): Promise<string> {
  const built = await ensureFamily(KROUTE_PROBE, opts);
  return built.bin['kroute-probe'] ?? join(built.dir, 'kroute-probe');
}
