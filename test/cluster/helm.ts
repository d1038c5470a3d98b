/**
 * A real helm (helm.sh/helm/v3 v3.22.0, `helm.sh/helm/v3/cmd/helm`), built from the Go module proxy through the
 * wrapper module test/cluster/go/helm/ and cached like the control-plane binaries (./binaries.ts: same cache root,
 * same lock, same go environment) under `${XDG_CACHE_HOME:-~/.cache}/kroute/bin/helm-<key>/helm`, where the key
 * hashes the module's go.mod and go.sum, the Go version and the recipe. A cache hit costs a stat.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binCacheRoot, GO_MODULES_DIR, goEnv, goVersion, lock, runGo, type Exit } from './binaries.js';

/** Bumped when the build command below changes. */
const RECIPE = 'helm-v1';
const MODULE_DIR = join(GO_MODULES_DIR, 'helm');

/** The helm version the wrapper module pins (`v3.22.0`). */
export async function helmVersionPinned(): Promise<string> {
  const mod = await readFile(join(MODULE_DIR, 'go.mod'), 'utf8');
  const m = /^require helm\.sh\/helm\/v3 (v\d+\.\d+\.\d+)$/m.exec(mod);
  if (!m?.[1]) throw new Error(`${MODULE_DIR}/go.mod: no "require helm.sh/helm/v3 vX.Y.Z" line`);
  return m[1];
}

/** The cache key: the module's go.mod and go.sum, the Go version and the recipe. */
export async function helmKey(go: string): Promise<string> {
  const h = createHash('sha256').update(`${RECIPE}\n${go}\n`);
  for (const f of ['go.mod', 'go.sum']) h.update(`${f}\n`).update(await readFile(join(MODULE_DIR, f)));
  return h.digest('hex').slice(0, 16);
}

/** Returns the path of the cached helm binary, building it first when missing (about 2 minutes cold). */
export async function ensureHelm(opts: { readonly log?: (line: string) => void; readonly lockWaitMs?: number } = {}): Promise<string> {
  const log = opts.log ?? (() => undefined);
  const go = await goVersion();
  if (!go) throw new Error('Go is not installed (needed to build helm for the chart tests)');
  const version = await helmVersionPinned();
  const key = await helmKey(go);
  const root = binCacheRoot();
  const dir = join(root, `helm-${key}`);
  const bin = join(dir, 'helm');
  if (existsSync(bin)) return bin;
  await mkdir(root, { recursive: true });
  const release = await lock(join(root, `helm-${key}.lock`), opts.lockWaitMs ?? 30 * 60_000, log);
  try {
    if (existsSync(bin)) return bin;
    const tmp = join(root, `helm-${key}.tmp-${process.pid}`);
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const started = Date.now();
    log(`building helm ${version} with ${go} into ${dir}`);
    // The -X flag gives `helm version` the real version (upstream's Makefile sets the same variable).
    const args = ['build', '-trimpath', '-ldflags', `-s -w -X helm.sh/helm/v3/internal/version.version=${version}`, '-o', `${tmp}/`, 'helm.sh/helm/v3/cmd/helm'];
    const r = await runGo(args, MODULE_DIR, goEnv());
    if (r.code !== 0) {
      await rm(tmp, { recursive: true, force: true });
      throw new Error(`go ${args.join(' ')} (in test/cluster/go/helm) failed (${r.code}):\n${r.stderr.split('\n').slice(-40).join('\n')}`);
    }
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    log(`built helm in ${Math.round((Date.now() - started) / 1000)} s`);
    return bin;
  } finally {
    await release();
  }
}

/** A helm with its own cache, config and data folders (nothing read from or written to the user's). */
export interface Helm {
  /** The binary. */
  readonly bin: string;
  /** Runs helm; never throws on a non-zero exit. */
  run(args: readonly string[], opts?: { readonly input?: string; readonly timeoutMs?: number }): Promise<Exit>;
  /** Removes the helm home folders. */
  cleanup(): Promise<void>;
}

/** Builds or finds helm and gives it a private home. */
export async function startHelm(opts: { readonly log?: (line: string) => void } = {}): Promise<Helm> {
  const bin = await ensureHelm(opts);
  const home = await mkdtemp(join(tmpdir(), 'kroute-helm-'));
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(home, 'cache'),
    HELM_CONFIG_HOME: join(home, 'config'),
    HELM_DATA_HOME: join(home, 'data'),
    KUBECONFIG: join(home, 'no-kubeconfig'),
  };
  return {
    bin,
    run: (args, o = {}) =>
      new Promise<Exit>((resolve, reject) => {
        const child = spawn(bin, [...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? 1, stdout, stderr });
        });
        child.stdin.end(o.input ?? '');
      }),
    cleanup: () => rm(home, { recursive: true, force: true }),
  };
}
