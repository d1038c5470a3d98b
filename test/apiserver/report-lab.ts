/**
 * A lab of several DigitalOcean-shaped nodes around one real API server, for per-node reports (docs/status.md):
 * one topology per node (test/net/topology.ts), the control plane in the first one's control-plane namespace, and
 * in every other topology a forwarder on the same address (198.18.0.10:6443) that reaches it through a Unix socket
 * (which crosses network namespaces: it lives in the file system). Each node thus reaches the API server only
 * through its own routes, as in agent-e2e.test.ts. Also: Pod-bound agent tokens (the node-restriction policy reads
 * the node name they carry) and the controller as a real process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ControlPlane } from '../cluster/control-plane.js';
import { agentKubeconfig, standInNode } from '../lab/control-plane.js';
import { CONTROL_PLANE_V4, type Topology } from '../net/topology.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built controller. */
export const CONTROLLER_MAIN_JS = join(REPO_ROOT, 'lib', 'agent', 'controller', 'main.js');

const FORWARD = `
const net = require('node:net');
const [mode, sock, host, port] = process.argv.slice(1);
const pipe = (c, u) => { const end = () => { c.destroy(); u.destroy(); }; for (const s of [c, u]) { s.on('error', end); s.on('close', end); } c.pipe(u); u.pipe(c); };
const server = mode === 'tcp-to-sock'
  ? net.createServer((c) => pipe(c, net.connect(sock)))
  : net.createServer((c) => pipe(c, net.connect(Number(port), host)));
const ready = () => process.stdout.write('ready\\n');
if (mode === 'tcp-to-sock') server.listen(Number(port), host, ready); else server.listen(sock, ready);
process.on('SIGTERM', () => process.exit(0));
`;

function startForwarder(ns: string, args: string[], processes: ChildProcess[]): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', FORWARD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  processes.push(child);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`forwarder in ${ns} did not start`)), 10_000);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      if (l === 'ready') {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`forwarder in ${ns} exited (${code})`)));
  });
}

/** Makes `other`'s node reach the API server running in `home`'s control-plane namespace at 198.18.0.10:6443. */
export async function shareControlPlane(home: Topology, other: Topology, port = 6443): Promise<void> {
  const sock = join(other.dir, 'apiserver-share.sock');
  await startForwarder(home.controlPlane.name, ['sock-to-tcp', sock, CONTROL_PLANE_V4, String(port)], other.processes);
  await startForwarder(other.controlPlane.name, ['tcp-to-sock', sock, CONTROL_PLANE_V4, String(port)], other.processes);
}

/** A Node object with a Ready condition, as a kubelet would write it (there is no kubelet here): the lab's stand-in Node. */
export function registerNode(cp: ControlPlane, name: string, labels: Record<string, string> = {}): Promise<void> {
  return standInNode(cp, name, { 'kubernetes.io/hostname': name, ...labels });
}

/**
 * A kubeconfig whose token is bound to a stand-in Pod of `serviceAccount` on `nodeName`, as a DaemonSet Pod's
 * projected token is (the lab's agentKubeconfig): the API server adds `authentication.kubernetes.io/node-name` to
 * its user info. No kubelet runs the Pod; it only exists to bind the token.
 */
export function nodeBoundKubeconfig(cp: ControlPlane, serviceAccount: string, namespace: string, nodeName: string, opts: { readonly local?: boolean } = {}): Promise<string> {
  return agentKubeconfig({ dir: dirname(cp.caFile) }, cp, { name: serviceAccount, namespace }, nodeName, opts);
}

/** The controller as a process (root namespace, through the relay), with its JSON log lines. */
export interface ControllerProcess {
  readonly logs: Record<string, unknown>[];
  waitForLog(pred: (l: Record<string, unknown>) => boolean, deadlineMs: number, what: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `kroute-controller` with a kubeconfig (its ServiceAccount's, through the relay). */
export function startController(kubeconfig: string, namespace: string, extraArgs: readonly string[] = []): ControllerProcess {
  const child = spawn(process.execPath, [CONTROLLER_MAIN_JS, '--kubeconfig', kubeconfig, '--namespace', namespace, '--health-port', '0', ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const logs: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    if (process.env.KROUTE_E2E_VERBOSE === '1') process.stdout.write(`[controller] ${line}\n`);
    try {
      logs.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      logs.push({ text: line });
    }
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  return {
    logs,
    waitForLog: (pred, deadlineMs, what) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (logs.some(pred)) {
            clearTimeout(t);
            waiters.delete(check);
            resolve();
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`controller: no ${what} within ${deadlineMs} ms; last lines:\n${logs.slice(-10).map((l) => JSON.stringify(l)).join('\n')}`));
        }, deadlineMs);
        waiters.add(check);
        check();
      }),
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}
