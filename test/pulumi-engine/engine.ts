/**
 * Pulumi's real engine for tests, offline: the Pulumi CLI, its YAML language host and the Kubernetes provider
 * 4.25.0 built from the Go module proxy (test/cluster/binaries.ts), a file backend and a PULUMI_HOME in a temporary
 * folder, no plugin downloads, no update checks. TypeScript programs run inline (the Automation API serves the
 * language runtime itself, so no Node language host is needed); YAML programs run through the CLI's YAML host, with
 * kroute's component provider as an executable plugin (`pulumi-resource-kroute`, a shell script starting the
 * component-provider host with Node). See docs/pulumi.md.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensureFamily,
  PULUMI,
  PULUMI_KUBERNETES,
  PULUMI_KUBERNETES_VERSION,
  PULUMI_VERSION,
  type EnsureBinariesOptions,
} from '../cluster/binaries.js';
import { ROOT } from '../pulumi/compiled.js';
import type { DriverRequest, DriverResult, EnvRef } from './driver.js';

export { PULUMI_KUBERNETES_VERSION, PULUMI_VERSION };
export type { DriverResult };

/** The Pulumi binaries in use. */
export interface PulumiBinaries {
  readonly pulumi: string;
  readonly languageYaml: string;
  readonly kubernetesProvider: string;
}

/** Builds (first time) or finds the Pulumi CLI, its YAML host and the Kubernetes provider. */
export async function ensurePulumi(opts: EnsureBinariesOptions = {}): Promise<PulumiBinaries> {
  const cli = await ensureFamily(PULUMI, opts);
  const k8s = await ensureFamily(PULUMI_KUBERNETES, opts);
  const get = (bin: Readonly<Record<string, string>>, n: string): string => {
    const p = bin[n];
    if (!p) throw new Error(`no ${n} in the built family`);
    return p;
  };
  return {
    pulumi: get(cli.bin, 'pulumi'),
    languageYaml: get(cli.bin, 'pulumi-language-yaml'),
    kubernetesProvider: get(k8s.bin, 'pulumi-resource-kubernetes'),
  };
}

/** One engine environment: its own PULUMI_HOME, file backend and passphrase. */
export interface PulumiEnv extends EnvRef {
  readonly binaries: PulumiBinaries;
  /** A folder holding `pulumi-resource-kroute` (for a YAML project's `plugins.providers[].path`). */
  readonly krouteProviderDir: string;
  /**
   * Runs one operation in a driver process (./driver.ts) and returns what it reports. A driver still running after
   * `timeoutMs` (default 8 minutes, under a test's 10) is killed with the CLI it started, and the run fails with
   * what they printed: a hang reads as a failure that says where it stopped, not as a test timeout.
   */
  run(req: Omit<DriverRequest, 'env'>, timeoutMs?: number): Promise<DriverResult>;
  /** Runs the CLI itself (e.g. `stack export`); throws with its stderr on failure. */
  cli(args: readonly string[], cwd?: string): Promise<string>;
  remove(): Promise<void>;
}

/** The built driver (npm run build). */
const DRIVER = join(ROOT, 'lib', 'test', 'pulumi-engine', 'driver.js');

/**
 * Makes an engine environment in a temporary folder: PULUMI_HOME with the Kubernetes provider installed from the
 * built file (`pulumi plugin install resource kubernetes 4.25.0 --file`), the CLI under `root/bin` (where the
 * Automation API looks) beside the YAML host, a file backend, and the kroute plugin wrapper.
 */
export async function makePulumiEnv(binaries: PulumiBinaries): Promise<PulumiEnv> {
  if (!existsSync(DRIVER)) throw new Error(`${DRIVER} is missing: run npm run build first`);
  const dir = await mkdtemp(join(tmpdir(), 'kroute-pulumi-'));
  try {
    const home = join(dir, 'home');
    const state = join(dir, 'state');
    const root = join(dir, 'root');
    const bin = join(root, 'bin');
    for (const d of [home, state, bin]) await mkdir(d, { recursive: true });
    await symlink(binaries.pulumi, join(bin, 'pulumi'));
    await symlink(binaries.languageYaml, join(bin, 'pulumi-language-yaml'));
    const backendUrl = `file://${state}`;
    const envVars: Record<string, string> = {
      PULUMI_HOME: home,
      PULUMI_BACKEND_URL: backendUrl,
      // The file backend encrypts secrets (the kubeconfig) with a key derived from this; a test value.
      PULUMI_CONFIG_PASSPHRASE: 'kroute-test',
      PULUMI_SKIP_UPDATE_CHECK: 'true',
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
      PULUMI_DISABLE_REGISTRY_RESOLVE: 'true',
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: 'true',
      // Never an ambient cluster: every program passes an explicit provider with the test kubeconfig.
      KUBECONFIG: '/dev/null',
      PATH: `${bin}:${process.env.PATH ?? ''}`,
    };
    const env: Record<string, string> = { ...(process.env as Record<string, string>), ...envVars };
    const cli = async (args: readonly string[], cwd = dir): Promise<string> => {
      const r = await runProcess(join(bin, 'pulumi'), args, env, cwd);
      if (r.code !== 0) throw new Error(`pulumi ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
      return r.stdout;
    };
    await cli(['plugin', 'install', 'resource', 'kubernetes', PULUMI_KUBERNETES_VERSION, '--file', binaries.kubernetesProvider]);
    const krouteProviderDir = await writeKroutePlugin(join(dir, 'kroute-plugin'));
    const ref: EnvRef = { dir, home, backendUrl, root, envVars };
    let n = 0;
    return {
      ...ref,
      binaries,
      krouteProviderDir,
      async run(req, timeoutMs = DRIVER_TIMEOUT_MS) {
        const file = join(dir, `request-${++n}.json`);
        await writeFile(file, JSON.stringify({ ...req, env: ref }));
        const r = await runProcess(process.execPath, [DRIVER, file], env, dir, timeoutMs);
        if (r.timedOut) throw new Error(`pulumi ${req.op} did not finish in ${timeoutMs / 1000} s (killed):\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-8000)}`);
        const line = r.stdout.split('\n').find((l) => l.startsWith('KROUTE-DRIVER-RESULT '));
        if (!line) throw new Error(`the driver printed no result (exit ${r.code}):\n${r.stderr.slice(-4000)}\n${r.stdout.slice(-4000)}`);
        return JSON.parse(line.slice('KROUTE-DRIVER-RESULT '.length)) as DriverResult;
      },
      cli,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** How long one driver run may take (a test allows 10 minutes). */
const DRIVER_TIMEOUT_MS = 8 * 60_000;

/**
 * Runs a process in its own process group; past `timeoutMs` the group (the driver, the CLI and the plugins it
 * started) is killed and the result says `timedOut`.
 */
function runProcess(
  cmd: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  timeoutMs?: number,
): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, [...args], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: timeoutMs !== undefined });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
      timedOut = true;
      if (p.pid !== undefined) process.kill(-p.pid, 'SIGKILL');
    }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/**
 * The executable plugin a YAML program loads as `kroute`: the component provider (pulumi-provider/plugin/index.js,
 * built by `npm run build:packages`) started with this Node. `runtime: nodejs` in PulumiPlugin.yaml would need
 * Pulumi's Node language host, which cannot be built here (docs/pulumi.md).
 */
async function writeKroutePlugin(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const entry = join(ROOT, 'pulumi-provider', 'plugin', 'index.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run npm run build:packages first`);
  const script = join(dir, 'pulumi-resource-kroute');
  await writeFile(script, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(entry)} "$@"\n`);
  await chmod(script, 0o755);
  return dir;
}

