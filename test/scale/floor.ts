/**
 * Floors for docs/status.md, measured on one real API server with nothing else talking to it (`npm run scale:floor`):
 * - deletecollection of N Routes without a finalizer, and with kroute's one finalizer each (the request marks them
 *   one at a time), then releasing those finalizers 16 at a time, with a new TLS connection per call and with one
 *   keep-alive transport; then the whole path without agents: kroute's controller releasing each Route as its mark
 *   arrives. So the two-node test's deletion time can be read against them;
 * - a JSON merge patch changing one entry of a node's RouteReport holding E entries: its latency and the API server
 *   CPU it costs, which is what every report write costs during a bulk.
 *
 *   npm run scale:floor -- --routes 1000 --entries 1000 --patches 50
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { eachLimited } from '../../agent/concurrency.js';
import { clientControllerApi } from '../../agent/controller/api.js';
import { RouteController } from '../../agent/controller/controller.js';
import { systemClock } from '../../agent/kube/backoff.js';
import { transportConfiguration } from '../../agent/kube/transport.js';
import { KubeTransport } from '../../agent/kube/transport.js';
import { jsonLogger } from '../../agent/log.js';
import {
  REPORT_GROUP, REPORT_PLURAL, REPORT_VERSION, reportMergePatch, reportObject, ROUTE_FINALIZER, ROUTE_GROUP, ROUTE_PLURAL, ROUTE_VERSION, routeCrd, routeObject, routeReportCrd,
  type ReportEntry,
} from '../../core/index.js';
import { startControlPlane } from '../cluster/control-plane.js';
import { NetnsLab } from '../net/netns.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? (process.argv[i + 1] as string) : def;
}

function cpuSeconds(pid: number): number {
  const rest = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const routes = Number(arg('routes', '1000'));
  const entries = Number(arg('entries', '1000'));
  const patches = Number(arg('patches', '50'));
  const lab = new NetnsLab();
  const ns = await lab.add('floor');
  const cp = await startControlPlane({ netns: ns, address: '127.0.0.1' });
  try {
    await cp.apply([routeCrd(), routeReportCrd()]);
    for (const crd of ['routes.networking.doks.digitalocean.com', 'routereports.kroute.dev']) await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${crd}`]);
    const pids = execFileSync('ip', ['netns', 'pids', ns.name], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
    const pid = pids.find((p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'kube-apiserver') as number;
    const kc = new KubeConfig();
    kc.loadFromFile(cp.localKubeconfig);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const routeApi = { group: ROUTE_GROUP, version: ROUTE_VERSION, plural: ROUTE_PLURAL };
    const out: Record<string, number> = {};
    // Keep-alive client, as the controller writes since session 5 (client-node's makeApiClient opens a connection
    // per call).
    const transport = new KubeTransport({ maxSockets: 16, timeoutMs: 60_000 });
    const keepAlive = new CustomObjectsApi(transportConfiguration(kc, transport));
    const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
    const objsOf = (withFinalizer: boolean) =>
      Array.from({ length: routes }, (_, i) => routeObject(`f-${i}`, { destinations: [`172.30.${i >> 8}.${i & 255}/32`], gateways: ['10.114.0.3'] }, withFinalizer ? { finalizers: [ROUTE_FINALIZER] } : {}));
    const left = async () => {
      const l = (await keepAlive.listClusterCustomObject({ ...routeApi, limit: 1 })) as { items: unknown[]; metadata?: { remainingItemCount?: number; continue?: string } };
      return l.items.length + (l.metadata?.remainingItemCount ?? (l.metadata?.continue ? 1 : 0));
    };
    const timed = async (key: string, fn: () => Promise<unknown>) => {
      const cpu = cpuSeconds(pid);
      const t = Date.now();
      await fn();
      out[`${key}: s`] = (Date.now() - t) / 1000;
      out[`${key}: API server CPU s`] = Math.round((cpuSeconds(pid) - cpu) * 10) / 10;
    };
    const release = (api: CustomObjectsApi) => (o: { metadata: { name: string } }) =>
      api.patchClusterCustomObject({ ...routeApi, name: o.metadata.name, body: [{ op: 'remove', path: '/metadata/finalizers' }] }, jsonPatch).then(() => undefined);
    await eachLimited(objsOf(false), 16, (body) => keepAlive.createClusterCustomObject({ ...routeApi, body }).then(() => undefined));
    await timed('deletecollection, no finalizer', () => keepAlive.deleteCollectionClusterCustomObject(routeApi));
    for (const [how, api] of [['a new TLS connection per call (client-node makeApiClient)', custom], ['one keep-alive transport (KubeTransport)', keepAlive]] as const) {
      const objs = objsOf(true);
      await eachLimited(objs, 16, (body) => keepAlive.createClusterCustomObject({ ...routeApi, body }).then(() => undefined));
      await timed('deletecollection, one finalizer each (marking only)', () => keepAlive.deleteCollectionClusterCustomObject(routeApi));
      // Release them (what the controller does), 16 at a time.
      await timed(`finalizer releases, 16 at a time, ${how}`, () => eachLimited(objs, 16, release(api)));
      if ((await left()) !== 0) throw new Error('objects left after the releases');
    }
    // The whole path without agents: kroute's controller (keep-alive) adds the finalizers, then a deletecollection;
    // it releases each Route as its mark arrives (no node reports it). From the request's start to every object gone.
    const ctl = new RouteController({ api: clientControllerApi(kc, 30_000), namespace: 'default', log: jsonLogger('error'), clock: systemClock });
    await ctl.start();
    try {
      await eachLimited(objsOf(false), 16, (body) => keepAlive.createClusterCustomObject({ ...routeApi, body }).then(() => undefined));
      for (const t = Date.now(); ctl.counts.finalizersAdded < routes; ) {
        if (Date.now() - t > 300_000) throw new Error('the controller did not add every finalizer');
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 2000));
      await timed("deletecollection with kroute's controller releasing (no agents), until every object is gone", async () => {
        await keepAlive.deleteCollectionClusterCustomObject(routeApi);
        while ((await left()) > 0) await new Promise((r) => setTimeout(r, 50));
      });
    } finally {
      await ctl.stop();
    }
    const reportApi = { group: REPORT_GROUP, version: REPORT_VERSION, plural: REPORT_PLURAL };
    const since = new Date().toISOString();
    const entry = (i: number, state: ReportEntry['state']): ReportEntry => ({ uid: `0000000-0000-0000-0000-${String(i).padStart(12, '0')}`, state, reason: 'Programmed', activeGateways: ['10.114.0.3'], observedGeneration: 1, since });
    const all: Record<string, ReportEntry> = {};
    for (let i = 0; i < entries; i++) all[`bulk-${i}`] = entry(i, 'Applied');
    await custom.createClusterCustomObject({ ...reportApi, body: reportObject('floor-node', undefined, all) });
    const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const lat: number[] = [];
    const cpu2 = cpuSeconds(pid);
    let before = all;
    for (let i = 0; i < patches; i++) {
      const after = { ...before, [`bulk-${i}`]: entry(i, 'Removing') };
      const t = Date.now();
      await custom.patchClusterCustomObject({ ...reportApi, name: 'floor-node', body: reportMergePatch(before, after) }, merge);
      lat.push(Date.now() - t);
      before = after;
    }
    out[`report merge patch (${entries} entries, one changed): median ms`] = median(lat);
    transport.close();
    out['report merge patch: API server CPU ms each'] = Math.round(((cpuSeconds(pid) - cpu2) / patches) * 1000);
    const obj = await custom.getClusterCustomObject({ ...reportApi, name: 'floor-node' });
    out['report object: KB as stored (with managedFields)'] = Math.round(JSON.stringify(obj).length / 1024);
    out['report managedFields: KB'] = Math.round(JSON.stringify((obj as { metadata: { managedFields?: unknown } }).metadata.managedFields ?? []).length / 1024);
    for (const [k, v] of Object.entries(out)) process.stdout.write(`[floor] ${k}: ${v}\n`);
  } finally {
    await cp.stop();
    await lab.cleanup();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().then(() => process.exit(0), (e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  });
}
