/**
 * The scale simulation of per-node reporting (docs/status.md), a benchmark-style script (`npm run scale`), not a
 * timed test. For each N: a real API server (etcd + kube-apiserver in a network namespace), kroute's CRDs, RBAC and
 * policies, N Node objects, N Pod-bound agent tokens, N stand-in agents (kroute's real Kubernetes face with
 * stand-in kernels, stand-in-agent.ts) in a few processes, and kroute's real controller. Measured per phase (one
 * Route rolled out to every node, its deletion, a bulk of 100 Routes, their deletecollection): time until the
 * summary says Ready (or the objects are gone), API writes, watch events and bytes received per agent, API server
 * CPU and resident memory.
 *
 *   npm run scale -- --nodes 100,300,1000 --workers 4 --bulk 100 --out scale-results.json
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { eachLimited } from '../../agent/concurrency.js';
import { clientControllerApi } from '../../agent/controller/api.js';
import { RouteController } from '../../agent/controller/controller.js';
import { systemClock } from '../../agent/kube/backoff.js';
import { transportConfiguration } from '../../agent/kube/transport.js';
import { KubeTransport } from '../../agent/kube/transport.js';
import { jsonLogger } from '../../agent/log.js';
import {
  agentManifests, reportManifests, resolveAgentManifestOptions, ROUTE_GROUP, ROUTE_PLURAL, ROUTE_VERSION, routeCrd, routeObject, routeReportCrd,
} from '../../core/index.js';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.js';
import { NetnsLab, type Netns } from '../net/netns.js';
import type { WorkerStats } from './sim-worker.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const WORKER = join(HERE, 'sim-worker.js');

/** One measured phase. */
export interface PhaseResult {
  readonly nodes: number;
  readonly phase: string;
  /** Seconds until the summary said Ready on every node (rollouts) or the objects were gone (deletions); null: not within the limit. */
  readonly seconds: number | null;
  readonly agentReportWrites: number;
  readonly controllerWrites: number;
  readonly heartbeatWrites: number;
  readonly eventsPerAgent: number;
  readonly kbPerAgent: number;
  readonly apiserverCpuSeconds: number;
  readonly apiserverRssMiB: number;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : def;
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until<T>(deadlineMs: number, check: () => Promise<T | undefined>, pollMs = 200): Promise<T | undefined> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch {
      // the API server is busy: look again
    }
    if (Date.now() > end) return undefined;
    await delay(pollMs);
  }
}

async function apiserverPid(ns: Netns): Promise<number> {
  const r = await ns.exec('true', []); // the namespace exists
  if (r.code !== 0) throw new Error(`namespace ${ns.name} is gone`);
  const { execFileSync } = await import('node:child_process');
  const pids = execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  const pid = pids.find((p) => {
    try {
      return readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'kube-apiserver';
    } catch {
      return false;
    }
  });
  if (!pid) throw new Error('kube-apiserver not found in its namespace');
  return pid;
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}

class Worker {
  private readonly waiters: ((m: Record<string, unknown>) => boolean)[] = [];
  constructor(readonly child: ChildProcess) {
    child.on('message', (m: Record<string, unknown>) => {
      for (const w of [...this.waiters]) if (w(m)) this.waiters.splice(this.waiters.indexOf(w), 1);
    });
  }
  private ask<T>(msg: object, key: string, timeoutMs = 600_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`worker: no ${key} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push((m) => {
        if (!(key in m)) return false;
        clearTimeout(t);
        resolve(m[key] as T);
        return true;
      });
      this.child.send(msg);
    });
  }
  start(msg: object): Promise<boolean> {
    return this.ask({ start: msg }, 'started');
  }
  stats(): Promise<WorkerStats> {
    return this.ask({ stats: true }, 'stats', 60_000);
  }
  async stop(): Promise<void> {
    await this.ask({ stop: true }, 'stopped', 30_000).catch(() => this.child.kill('SIGKILL'));
  }
}

async function totals(workers: readonly Worker[]): Promise<WorkerStats> {
  const all = await Promise.all(workers.map((w) => w.stats()));
  const sum = (k: keyof WorkerStats) => all.reduce((s, x) => s + x[k], 0);
  return { agents: sum('agents'), synced: sum('synced'), events: sum('events'), bytes: sum('bytes'), reportWrites: sum('reportWrites'), reportBytesSent: sum('reportBytesSent'), renewals: sum('renewals'), rssBytes: sum('rssBytes') };
}

async function runN(n: number, workersN: number, bulk: number, phaseLimitMs: number, results: PhaseResult[]): Promise<void> {
  const log = jsonLogger('error');
  const lab = new NetnsLab();
  const workers: Worker[] = [];
  let cp: ControlPlane | undefined;
  let controller: RouteController | undefined;
  let transport: KubeTransport | undefined;
  try {
    const ns = await lab.add('scale');
    cp = await startControlPlane({ netns: ns, address: '127.0.0.1' });
    const resolved = resolveAgentManifestOptions();
    if (!resolved.ok) throw new Error('default agent options do not resolve');
    const o = resolved.value;
    await cp.apply([routeCrd(), routeReportCrd()]);
    for (const crd of ['routes.networking.doks.digitalocean.com', 'routereports.kroute.dev']) await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${crd}`]);
    await cp.apply([...agentManifests(o), ...reportManifests(o)].filter((m) => m.kind !== 'DaemonSet' && m.kind !== 'Deployment'));
    const kc = new KubeConfig();
    kc.loadFromFile(cp.localKubeconfig);
    // The driver's own calls (setup, the phases' creates and looks) over one keep-alive transport: client-node's
    // makeApiClient would open a TLS connection per call.
    transport = new KubeTransport({ maxSockets: 16, timeoutMs: 120_000 });
    const conf = transportConfiguration(kc, transport);
    const core = new CoreV1Api(conf);
    const custom = new CustomObjectsApi(conf);
    const names = Array.from({ length: n }, (_, i) => `sim-${String(i).padStart(4, '0')}`);
    const t0 = Date.now();
    const tokens = new Map<string, string>();
    await eachLimited(names, 16, async (name) => {
      await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, 'doks.digitalocean.com/node-pool': 'sim' } } } });
      const pod = await core.createNamespacedPod({ namespace: o.namespace, body: { metadata: { name: `agent-${name}` }, spec: { nodeName: name, serviceAccountName: o.name, containers: [{ name: 'x', image: 'registry.invalid/never-run' }] } } });
      const tr = await core.createNamespacedServiceAccountToken({
        name: o.name,
        namespace: o.namespace,
        body: { spec: { audiences: [], expirationSeconds: 7200, boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: `agent-${name}`, uid: pod.metadata?.uid } } },
      });
      tokens.set(name, tr.status?.token ?? '');
    });
    process.stdout.write(`[scale] N=${n}: ${n} Nodes, Pods and Pod-bound tokens in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const ctl = new RouteController({ api: clientControllerApi(kc, 30_000), namespace: o.namespace, log, clock: systemClock });
    controller = ctl;
    await ctl.start();
    for (let w = 0; w < workersN; w++) {
      const child = spawn('ip', ['netns', 'exec', ns.name, 'bash', '-c', `ulimit -n "$(ulimit -Hn)"; exec "${process.execPath}" "${WORKER}"`], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=2048' },
      });
      workers.push(new Worker(child));
    }
    const t1 = Date.now();
    await Promise.all(workers.map((w, i) => w.start({
      server: cp?.server, caFile: cp?.caFile, namespace: o.namespace,
      agents: names.filter((_, j) => j % workersN === i).map((nodeName) => ({ nodeName, token: tokens.get(nodeName) })),
    })));
    const synced = await until(phaseLimitMs, async () => ((await totals(workers)).synced === n ? true : undefined), 1000);
    process.stdout.write(`[scale] N=${n}: ${synced ? 'all' : 'not all'} agents synced in ${((Date.now() - t1) / 1000).toFixed(1)} s\n`);
    const pid = await apiserverPid(ns);
    const routeApi = { group: ROUTE_GROUP, version: ROUTE_VERSION, plural: ROUTE_PLURAL };
    const list = async () => ((await custom.listClusterCustomObject(routeApi)) as { items: { metadata: { name: string }; status?: { appliedNodes?: number; conditions?: { type: string; status: string }[] } }[] }).items;
    /** Routes left: a list of one, the API server counts the rest (a full list every 100 ms would compete). */
    const left = async () => {
      const l = (await custom.listClusterCustomObject({ ...routeApi, limit: 1 })) as { items: unknown[]; metadata?: { remainingItemCount?: number; continue?: string } };
      return l.items.length + (l.metadata?.remainingItemCount ?? (l.metadata?.continue ? 1 : 0));
    };
    const readyAll = async (want: number) => {
      const items = await list();
      return items.length === want && items.every((r) => r.status?.appliedNodes === n && r.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined;
    };
    // Let the start settle (first reports, heartbeats) before measuring.
    await until(60_000, async () => ((await custom.listClusterCustomObject({ group: 'kroute.dev', version: 'v1alpha1', plural: 'routereports' })) as { items: unknown[] }).items.length === n ? true : undefined, 1000);
    await delay(3000);
    const measure = async (phase: string, act: () => Promise<void>, done: () => Promise<true | undefined>, pollMs = 100): Promise<void> => {
      const before = await totals(workers);
      const c0 = { ...ctl.counts };
      const cpu0 = cpuSeconds(pid);
      const start = Date.now();
      await act();
      const ok = await until(phaseLimitMs, done, pollMs);
      const seconds = ok ? (Date.now() - start) / 1000 : null;
      await delay(2000); // trailing events (the last summary write reaches every agent)
      const after = await totals(workers);
      const c1 = ctl.counts;
      const r: PhaseResult = {
        nodes: n,
        phase,
        seconds,
        agentReportWrites: after.reportWrites - before.reportWrites,
        controllerWrites: c1.finalizersAdded + c1.finalizersReleased + c1.summaries - (c0.finalizersAdded + c0.finalizersReleased + c0.summaries),
        heartbeatWrites: after.renewals - before.renewals,
        eventsPerAgent: Math.round(((after.events - before.events) / n) * 10) / 10,
        kbPerAgent: Math.round(((after.bytes - before.bytes) / n / 1024) * 10) / 10,
        apiserverCpuSeconds: Math.round((cpuSeconds(pid) - cpu0) * 10) / 10,
        apiserverRssMiB: rssMiB(pid),
      };
      results.push(r);
      process.stdout.write(`[scale] ${JSON.stringify(r)}\n`);
    };
    await measure('rollout of 1 Route', async () => {
      await custom.createClusterCustomObject({ ...routeApi, body: routeObject('one', { destinations: ['172.30.0.0/16'], gateways: ['10.114.0.3'] }) });
    }, () => readyAll(1), 250);
    await measure('deletion of 1 Route', async () => {
      await custom.deleteClusterCustomObject({ ...routeApi, name: 'one' });
    }, async () => ((await left()) === 0 ? true : undefined));
    const objs = Array.from({ length: bulk }, (_, i) => routeObject(`bulk-${i}`, { destinations: [`172.31.${i >> 8}.${i & 255}/32`], gateways: ['10.114.0.3'] }));
    await measure(`bulk of ${bulk} Routes`, async () => {
      await eachLimited(objs, 16, async (body) => {
        // A loaded API server answers 504 or 429 now and then: try again, as kubectl's callers do.
        for (let i = 0; ; i++) {
          try {
            await custom.createClusterCustomObject({ ...routeApi, body });
            return;
          } catch (e) {
            const code = (e as { code?: number }).code;
            if (code === 409) return;
            if (i >= 4 || (code !== 504 && code !== 429 && code !== 500)) throw e;
          }
        }
      });
    }, () => readyAll(bulk), 500); // a full list of the bulk: twice a second
    await measure(`deletecollection of ${bulk}`, async () => {
      // A loaded API server can take longer than its 60 s request timeout to mark every object; the request then
      // fails with the rest left: delete the collection again, as a user would (the two-node test does the same).
      for (let i = 0; ; i++) {
        try {
          await custom.deleteCollectionClusterCustomObject(routeApi);
          return;
        } catch (e) {
          process.stdout.write(`[scale] N=${n}: deletecollection attempt ${i + 1} failed: ${(e as Error).message}\n`);
          if (i >= 9) throw e;
        }
      }
    }, async () => ((await left()) === 0 ? true : undefined));
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await controller?.stop();
    transport?.close();
    await cp?.stop();
    await lab.cleanup();
  }
}

/** A markdown table of the results. */
export function resultsTable(rs: readonly PhaseResult[]): string {
  const rows = rs.map((r) => `| ${r.nodes} | ${r.phase} | ${r.seconds === null ? 'not within the limit' : r.seconds.toFixed(1)} | ${r.agentReportWrites} + ${r.controllerWrites} (+ ${r.heartbeatWrites} heartbeats) | ${r.eventsPerAgent} | ${r.kbPerAgent} | ${r.apiserverCpuSeconds} | ${r.apiserverRssMiB} |`);
  return ['| N | phase | s to Ready / gone | API writes: reports + controller | watch events per agent | KB per agent | API server CPU s | API server RSS MiB |', '| --- | --- | --- | --- | --- | --- | --- | --- |', ...rows].join('\n');
}

async function main(): Promise<void> {
  const ns = arg('nodes', '100,300').split(',').map(Number);
  const workers = Number(arg('workers', '4'));
  const bulk = Number(arg('bulk', '100'));
  const limit = Number(arg('phase-limit-seconds', '300')) * 1000;
  const out = arg('out', 'scale-results.json');
  const all: PhaseResult[] = [];
  for (const n of ns) {
    try {
      await runN(n, workers, bulk, limit, all);
    } catch (e) {
      process.stdout.write(`[scale] N=${n} stopped: ${(e as Error).message}\n`);
    }
    writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), workers, bulk, results: all }, null, 2) + '\n');
  }
  process.stdout.write(`${resultsTable(all)}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(() => process.exit(0), (e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
