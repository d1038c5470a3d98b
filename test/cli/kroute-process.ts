/**
 * The built `kroute` command (lib/agent/cli/main.js) as a process, in the root namespace or inside a test network
 * namespace (`--host local` reads that namespace's kernel), and `ip monitor` with markers, to show what changed in
 * a node's kernel between two points (and that nothing did).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../agent/agent-process.js';
import { run, type Exec, type Netns } from '../net/netns.js';
import { routeMonitor, type RouteMonitor } from '../lab/traffic.js';
import type { Topology } from '../net/topology.js';

export type { MonitoredRoute } from '../lab/traffic.js';

/** The built command. */
export const KROUTE_MAIN = join(REPO_ROOT, 'lib', 'agent', 'cli', 'main.js');

/** Runs `kroute ARGS` (inside `ns` when given); never throws on a non-zero exit. */
export async function kroute(args: readonly string[], ns?: Netns): Promise<Exec> {
  if (!existsSync(KROUTE_MAIN)) throw new Error(`${KROUTE_MAIN} is missing: run npm run build first`);
  // No NODE_OPTIONS from jest (--experimental-vm-modules) in the child: its warnings are not kroute's output.
  const env = ['env', 'NODE_OPTIONS=', 'KUBECONFIG=/nonexistent', process.execPath, KROUTE_MAIN, ...args];
  return ns ? ns.exec(env[0], env.slice(1), { timeoutMs: 60_000 }) : run(env[0], env.slice(1), { timeoutMs: 60_000 });
}

/** `kroute ... -o json`, parsed; the exit code beside it. */
export async function krouteJson<T>(args: readonly string[], ns?: Netns): Promise<{ code: number; value: T; stderr: string }> {
  const r = await kroute([...args, '-o', 'json'], ns);
  if (r.code === 1) throw new Error(`kroute ${args.join(' ')} failed: ${r.stderr}`);
  return { code: r.code, value: JSON.parse(r.stdout) as T, stderr: r.stderr };
}

/** `ip monitor route rule` in the node namespace, with markers (a route added and removed) to cut its output. */
export function monitor(topo: Topology, protocol = 145): RouteMonitor {
  return routeMonitor(topo.node, (p) => topo.processes.push(p), protocol);
}

/**
 * Keeps a command's output for the docs when KROUTE_CLI_CAPTURE names a folder (docs/cli.md quotes these files);
 * does nothing otherwise.
 */
export function capture(name: string, r: Exec, command: string): void {
  const to = process.env.KROUTE_CLI_CAPTURE;
  if (!to) return;
  mkdirSync(to, { recursive: true });
  writeFileSync(join(to, `${name}.txt`), `$ ${command}\n${r.stdout}${r.stderr}(exit ${r.code})\n`);
}
