/**
 * The built `kroute` command (lib/agent/cli/main.js) as a process, in the root namespace or inside a test network
 * namespace (`--host local` reads that namespace's kernel), and `ip monitor` with markers, to show what changed in
 * a node's kernel between two points (and that nothing did).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../agent/agent-process.js';
import { run, type Exec, type Netns } from '../net/netns.js';
import { until, type Topology } from '../net/topology.js';

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

/** An `ip monitor` rule line: `15135:\tfrom ...` (after `Deleted ` when removed). */
const RULE_LINE = /^(?:Deleted )?(\d+):/;

/** One route line of `ip monitor` with kroute's protocol. */
export interface MonitoredRoute {
  readonly deleted: boolean;
  readonly dst: string;
  readonly table: string;
}

/** `ip monitor route rule` in the node namespace, with markers (a route added and removed) to cut its output. */
export function monitor(topo: Topology, protocol = 145) {
  const p = topo.node.spawn('ip', ['monitor', 'route', 'rule']);
  topo.processes.push(p);
  const lines: string[] = [];
  createInterface({ input: p.stdout as NodeJS.ReadableStream }).on('line', (l) => lines.push(l));
  let n = 0;
  const top = (from: number, to: number) => lines.slice(from, to).filter((l) => !/^\s/.test(l) && new RegExp(`\\bproto(col)? ${protocol}\\b`).test(l));
  return {
    lines,
    /** Adds and removes a marker route and waits until the monitor printed it: every earlier event is in `lines`. */
    async mark(): Promise<number> {
      const bare = `192.0.2.${200 + (n++ % 50)}`;
      const from = lines.length;
      await topo.node.ip('route', 'add', `${bare}/32`, 'dev', 'eth1');
      await topo.node.ip('route', 'del', `${bare}/32`, 'dev', 'eth1');
      await until(`monitor marker ${bare}`, 5_000, async () => (lines.slice(from).some((l) => l.startsWith('Deleted ') && l.includes(bare)) ? true : undefined));
      return lines.length;
    },
    /** Routes with kroute's protocol between two marks (top-level lines: one per route, ECMP next hops folded). */
    owned(from: number, to = lines.length): MonitoredRoute[] {
      return top(from, to).filter((l) => !RULE_LINE.test(l)).map((l) => {
        const deleted = l.startsWith('Deleted ');
        const words = (deleted ? l.slice(8) : l).split(/\s+/);
        const table = /\btable (\S+)/.exec(l)?.[1] ?? 'main';
        const v6 = words[0].includes(':') || /\bvia (inet6 )?[0-9a-f]*:/.test(l);
        const dst = words[0] === 'default' ? (v6 ? '::/0' : '0.0.0.0/0') : words[0].includes('/') ? words[0] : `${words[0]}/${v6 ? 128 : 32}`;
        return { deleted, dst, table };
      });
    },
    /** Rules with kroute's protocol between two marks: `add|remove PRIORITY SRC`. */
    rules(from: number, to = lines.length): string[] {
      return top(from, to).filter((l) => RULE_LINE.test(l)).map((l) => {
        const m = RULE_LINE.exec(l);
        const src = /\bfrom (\S+)/.exec(l)?.[1] ?? 'all';
        return `${l.startsWith('Deleted ') ? 'remove' : 'add'} ${m?.[1] ?? '?'} ${src.includes('/') || src === 'all' ? src : `${src}/${src.includes(':') ? 128 : 32}`}`;
      });
    },
    /**
     * Every line between two marks except the markers themselves and the kernel's own routes (`proto kernel`: the
     * IPv6 link-local addresses of a new namespace's links finish DAD whenever they do; no agent writes those).
     */
    between(from: number, to = lines.length): string[] {
      return lines.slice(from, to).filter((l) => !/192\.0\.2\.2\d\d/.test(l) && !/\bproto kernel\b/.test(l));
    },
    stop: () => p.kill('SIGKILL'),
  };
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
