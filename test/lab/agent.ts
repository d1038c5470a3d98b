/**
 * The built agent (lib/agent/main.js) as a real process inside a lab namespace, with its JSON log lines collected:
 * in file mode (`--routes DIR`) or against the lab's control plane (`--kubeconfig`, a ServiceAccount token bound to
 * a stand-in Pod on its node, see ./control-plane.ts). It refuses to start anywhere but a namespace the lab made,
 * and sets KROUTE_REQUIRE_NETNS=1 so the agent refuses too: a test mistake can never rewrite the developer's own
 * routes. The lab stops it (SIGTERM) before its namespaces go.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { agentNodeOptions, resolveAgentManifestOptions } from '../../core/index.js';
import type { Lab } from './lab.js';
import type { Netns } from './netns.js';

/** NODE_OPTIONS of the default DaemonSet (core/agent-manifests.ts). */
export const DAEMONSET_NODE_OPTIONS = (() => {
  const r = resolveAgentManifestOptions();
  if (!r.ok) throw new Error('the default agent options do not resolve');
  return agentNodeOptions(r.value.resources.memoryLimit);
})();

/** The repository root, from the sources (test/agent) or the build (lib/test/agent). */
export const REPO_ROOT = dirname(fileURLToPath(import.meta.url)).replace(/\/lib\/test\/lab$/, '').replace(/\/test\/lab$/, '');
/** The built agent. */
export const AGENT_MAIN = join(REPO_ROOT, 'lib', 'agent', 'main.js');
/** kroute's route protocol (core/options.ts default). */
export const KROUTE_PROTO = 145;

/** One JSON log line of the agent. */
export interface LogLine {
  readonly time?: string;
  readonly level?: string;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

/** A running agent process. */
export interface AgentProcess {
  readonly pid: number;
  /** Every JSON line so far (stderr), in order. */
  readonly logs: LogLine[];
  /** Lines that were not JSON (stdout and stderr). */
  readonly text: string[];
  /** Resolves with the first line (already seen or future) matching `pred`; rejects after `deadlineMs` or on exit. */
  waitForLog(pred: (l: LogLine) => boolean, deadlineMs: number, what?: string): Promise<LogLine>;
  /** Resolves with the number of matching lines once at least `n` have appeared after index `from`. */
  waitForLogs(pred: (l: LogLine) => boolean, n: number, deadlineMs: number, from?: number): Promise<LogLine[]>;
  /** Sends SIGTERM (or `signal`) and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves when the process exits. */
  readonly exited: Promise<number | null>;
}

/** Options of `startAgent`. */
export interface StartAgentProps {
  /** The lab role the agent runs in. @default 'node' */
  readonly role?: string;
  /** File mode: the Route folder (`--routes`). Without it and with `kubeconfig`, the Kubernetes face. */
  readonly routes?: string;
  /** The Kubernetes face: a kubeconfig (e.g. from `agentKubeconfig`). */
  readonly kubeconfig?: string;
  /** Arguments after the defaults (later flags win). */
  readonly args?: readonly string[];
  /** Extra environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** Print the agent's lines to the test output as they come. @default KROUTE_E2E_VERBOSE=1 */
  readonly echo?: boolean;
}

/** The default flags of a test agent: fast probes, no HTTP ports, the lab's resolv.conf. */
export function defaultAgentArgs(lab: Lab, routesDir: string): string[] {
  return [
    '--node-name', 'node-a',
    '--routes', routesDir,
    '--resolv-conf', lab.resolvConf,
    '--probe-interval-seconds', '0.5',
    '--probe-timeout-seconds', '0.3',
    '--probe-fall-count', '2',
    '--health-port', '0',
    '--metrics-port', '0',
  ];
}

/** Starts the agent in a lab namespace (`ip netns exec NS node lib/agent/main.js ...`); the lab stops it on destroy(). */
export function startAgent(lab: Lab, props: StartAgentProps = {}): AgentProcess {
  const ns: Netns = lab.ns(props.role ?? 'node');
  lab.assertOwned(ns);
  if (!existsSync(AGENT_MAIN)) throw new Error(`${AGENT_MAIN} is missing: run npm run build first`);
  // `--routes ''` after the defaults turns file mode off: the Kubernetes face.
  const mode = props.kubeconfig ? ['--routes', props.routes ?? '', '--kubeconfig', props.kubeconfig] : [];
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns.name, process.execPath, AGENT_MAIN, ...defaultAgentArgs(lab, props.routes ?? ''), ...mode, ...(props.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // The DaemonSet's NODE_OPTIONS (heap bounds from its memory limit), so tests and the benchmark run what a node runs.
    env: { ...process.env, NODE_OPTIONS: DAEMONSET_NODE_OPTIONS, ...props.env, KROUTE_REQUIRE_NETNS: '1' },
  });
  if (child.pid === undefined) throw new Error('the agent did not start');
  lab.track(child);
  const logs: LogLine[] = [];
  const text: string[] = [];
  const waiters = new Set<() => void>();
  const echo = props.echo ?? process.env.KROUTE_E2E_VERBOSE === '1';
  const onLine = (line: string) => {
    if (echo) process.stdout.write(`[agent ${child.pid}] ${line}\n`);
    try {
      const v = JSON.parse(line) as unknown;
      if (typeof v === 'object' && v !== null) logs.push(v as LogLine);
      else text.push(line);
    } catch {
      text.push(line);
    }
    for (const w of [...waiters]) w();
  };
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', onLine);
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', onLine);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    exitCode = code;
    for (const w of [...waiters]) w();
    resolve(code);
  }));

  const waitForLogs = (pred: (l: LogLine) => boolean, n: number, deadlineMs: number, from = 0, what = 'a log line'): Promise<LogLine[]> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const found = logs.slice(from).filter(pred);
        if (found.length >= n) return done(() => resolve(found));
        if (exitCode !== undefined) done(() => reject(new Error(`the agent exited (${exitCode}) before ${what}; last lines:\n${tail()}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${deadlineMs} ms; last lines:\n${tail()}`))), deadlineMs);
      const done = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });
  const tail = () => [...logs.slice(-15).map((l) => JSON.stringify(l)), ...text.slice(-5)].join('\n');

  const agent: AgentProcess = {
    pid: child.pid,
    logs,
    text,
    exited,
    waitForLog: async (pred, deadlineMs, what) => (await waitForLogs(pred, 1, deadlineMs, 0, what))[0] as LogLine,
    waitForLogs: (pred, n, deadlineMs, from) => waitForLogs(pred, n, deadlineMs, from),
    async stop(signal = 'SIGTERM') {
      if (exitCode !== undefined) return exitCode;
      child.kill(signal);
      const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 10_000).unref())]);
      if (code === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`the agent did not exit within 10 s of ${signal}`);
      }
      return code;
    },
  };
  lab.onDestroy(agent);
  return agent;
}

/** Starts the agent (see `startAgent`) and resolves once it logged `ready` (default: its first apply). */
export async function runAgent(lab: Lab, props: StartAgentProps & { readonly ready?: string; readonly readyMs?: number } = {}): Promise<AgentProcess> {
  const agent = startAgent(lab, props);
  const ready = props.ready ?? 'applied';
  await agent.waitForLog((l) => l.msg === ready, props.readyMs ?? 15_000, ready === 'applied' ? 'the first apply' : ready);
  return agent;
}

/** A fresh routes folder inside the lab's scratch folder. */
export function routesDir(lab: Pick<Lab, 'dir'>, name = 'routes'): string {
  const d = join(lab.dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
  return d;
}

/** Writes a Route file by rename, so the agent never reads it half-written (its name starts with a dot until then). */
export function writeRoutes(dir: string, file: string, text: string): void {
  const tmp = join(dir, `.${file}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, join(dir, file));
}

/** A Route object as YAML. */
export function routeYaml(name: string, destinations: readonly string[], gateways: readonly string[], extra = ''): string {
  return `apiVersion: networking.doks.digitalocean.com/v1alpha1
kind: Route
metadata:
  name: ${name}
spec:
  destinations: [${destinations.map((d) => JSON.stringify(d)).join(', ')}]
  gateways: [${gateways.map((g) => JSON.stringify(g)).join(', ')}]
${extra}`;
}

/** One kernel route, simplified for assertions. */
export interface SimpleRoute {
  readonly dst: string;
  readonly table: string;
  readonly gateways: readonly string[];
  readonly dev?: string;
}

interface RouteJson {
  dst: string;
  table?: string;
  gateway?: string;
  dev?: string;
  nexthops?: { gateway?: string; dev?: string }[];
}

/** Routes with kroute's protocol in every table of the namespace, both families, sorted. */
export async function ownedRoutes(ns: Netns, protocol = KROUTE_PROTO): Promise<SimpleRoute[]> {
  const out: SimpleRoute[] = [];
  for (const fam of ['-4', '-6']) {
    const list = await ns.ipJson<RouteJson[]>(fam, 'route', 'show', 'table', 'all', 'proto', String(protocol));
    for (const r of list) {
      const gws = r.nexthops ? r.nexthops.map((h) => h.gateway ?? '') : r.gateway ? [r.gateway] : [];
      const dst = r.dst === 'default' ? (fam === '-4' ? '0.0.0.0/0' : '::/0') : r.dst.includes('/') ? r.dst : `${r.dst}/${fam === '-4' ? 32 : 128}`;
      out.push({ dst, table: r.table ?? 'main', gateways: [...gws].sort(), ...(r.dev ? { dev: r.dev } : {}) });
    }
  }
  return out.sort((a, b) => `${a.table} ${a.dst}`.localeCompare(`${b.table} ${b.dst}`));
}

/** The owned route to `dst` in the main table, if any. */
export async function ownedRoute(ns: Netns, dst: string): Promise<SimpleRoute | undefined> {
  return (await ownedRoutes(ns)).find((r) => r.dst === dst && r.table === 'main');
}
