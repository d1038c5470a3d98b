/**
 * A real helm (helm.sh/helm/v3 v3.22.0, `helm.sh/helm/v3/cmd/helm`), built from the Go module proxy through the
 * wrapper module test/cluster/go/helm/ as one more binary family of ./binaries.ts (same cache, lock and build
 * environment as the control plane).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureFamily, GO_MODULES_DIR, type GoBinaryFamily } from './binaries.js';

/** Output of a finished helm. */
interface Exit {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The helm version the wrapper module pins (`v3.22.0`). */
export async function helmVersionPinned(): Promise<string> {
  const mod = await readFile(join(GO_MODULES_DIR, 'helm', 'go.mod'), 'utf8');
  const m = /^require helm\.sh\/helm\/v3 (v\d+\.\d+\.\d+)$/m.exec(mod);
  if (!m?.[1]) throw new Error('test/cluster/go/helm/go.mod: no "require helm.sh/helm/v3 vX.Y.Z" line');
  return m[1];
}

/** helm as a binary family (./binaries.ts); the -X flag gives `helm version` the real version, as upstream's Makefile does. */
export const HELM: GoBinaryFamily = {
  name: 'helm',
  recipe: 'helm/v1',
  modules: ['helm'],
  expected: 'about 2 minutes',
  builds: [{ module: 'helm', packages: ['helm.sh/helm/v3/cmd/helm'], ldflags: ['-s', '-w', `-X helm.sh/helm/v3/internal/version.version=${await helmVersionPinned()}`] }],
};

/** Returns the path of the cached helm binary, building it first when missing. */
export async function ensureHelm(opts: { readonly log?: (line: string) => void; readonly lockWaitMs?: number } = {}): Promise<string> {
  const built = await ensureFamily(HELM, opts);
  const bin = built.bin['helm'];
  if (!bin) throw new Error(`helm missing from ${built.dir}`);
  return bin;
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
