/**
 * The control-plane harness itself: a namespace routed to the API server's address reaches it directly, the
 * test process reaches it through the local relay, the API server can be stopped and started while etcd keeps
 * the data, and stop() leaves no process behind. Needs Go and root; skipped locally without them, fails in CI.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, VersionApi } from '@kubernetes/client-node';
import { run, NetnsLab, type Netns } from '../net/netns.js';
import { ensureBinaries } from './binaries.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { requireGoOrSkip } from './prereq.js';
import { until } from '../net/topology.js';

const haveGo = await requireGoOrSkip();
const d = haveGo ? describe : describe.skip;

/** Addresses inside the lab's namespaces only (never routed from the machine's own namespace). */
const CP_ADDRESS = '10.255.0.1';
const CLIENT_ADDRESS = '10.255.0.2';

d('the control-plane harness (needs Go and root)', () => {
  const lab = haveGo ? new NetnsLab() : undefined;
  let cpNs: Netns;
  let client: Netns;
  let cp: ControlPlane | undefined;
  let scratch = '';
  const plane = (): ControlPlane => {
    if (!cp) throw new Error('the control plane did not start');
    return cp;
  };
  /** kubectl run from the client namespace, as an agent on a node would connect. */
  const fromClient = (args: string[]) =>
    client.exec(plane().binaries.kubectl, ['--kubeconfig', plane().kubeconfig, '--cache-dir', join(scratch, 'cache'), '--request-timeout=5s', ...args]);

  beforeAll(async () => {
    if (!lab) return;
    scratch = await mkdtemp(join(tmpdir(), 'kroute-cp-test-'));
    cpNs = await lab.add('cp');
    client = await lab.add('client');
    await lab.link(cpNs, 'eth0', client, 'eth0');
    await cpNs.ip('addr', 'add', `${CP_ADDRESS}/30`, 'dev', 'eth0');
    await client.ip('addr', 'add', `${CLIENT_ADDRESS}/30`, 'dev', 'eth0');
    cp = await startControlPlane({ netns: cpNs, address: CP_ADDRESS });
  }, 20 * 60_000);

  afterAll(async () => {
    await cp?.stop();
    await lab?.cleanup();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('finds the binaries in the cache on a second call, without building', async () => {
    const started = Date.now();
    const again = await ensureBinaries();
    expect(again.dir).toBe(plane().binaries.dir);
    expect(Date.now() - started).toBeLessThan(5000);
    const v = await run(again.kubectl, ['version', '--client', '-o', 'json']);
    expect(JSON.parse(v.stdout).clientVersion.gitVersion).toBe(again.kubernetesVersion);
  });

  it('serves its address to another namespace routed to it (the way a node reaches it)', async () => {
    expect(plane().server).toBe(`https://${CP_ADDRESS}:6443`);
    const r = await fromClient(['get', '--raw', '/readyz']);
    expect(r.stdout.trim()).toBe('ok');
  });

  it('serves the test process through the local kubeconfig (@kubernetes/client-node)', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(plane().localKubeconfig);
    const v = await kc.makeApiClient(VersionApi).getCode();
    expect(v.gitVersion).toBe(plane().binaries.kubernetesVersion);
  });

  it('runs kube-controller-manager: default ServiceAccounts, DaemonSets reconciled, foreground deletion', async () => {
    const c = plane();
    const kubectl = async (...args: string[]): Promise<string> => {
      const r = await c.kubectl(args);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
      return r.stdout;
    };
    expect(c.controllers).toContain('garbage-collector-controller');
    // The ServiceAccount and root-CA controllers fill a new namespace as on a cluster.
    await kubectl('create', 'namespace', 'cm-test');
    await until('default ServiceAccount and kube-root-ca.crt in cm-test', 30_000, async () =>
      (await c.kubectl(['get', 'serviceaccount/default', 'configmap/kube-root-ca.crt', '-n', 'cm-test', '-o', 'name'])).code === 0 || undefined);
    // The DaemonSet controller reconciles DaemonSets (it writes their status); with no kubelet it has no Pod to run.
    await c.apply([{
      apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { name: 'ds', namespace: 'cm-test' },
      spec: { selector: { matchLabels: { app: 'ds' } }, template: { metadata: { labels: { app: 'ds' } }, spec: { containers: [{ name: 'c', image: 'example.invalid/none' }] } } },
    }]);
    await until('the DaemonSet controller\'s status', 30_000, async () =>
      (await kubectl('get', 'daemonset', 'ds', '-n', 'cm-test', '-o', 'jsonpath={.status.observedGeneration}')).trim() === '1' || undefined);
    // Foreground deletion (what Pulumi's provider asks for) waits on the garbage collector's finalizer.
    await kubectl('delete', 'daemonset', 'ds', '-n', 'cm-test', '--cascade=foreground', '--timeout=60s');
    expect((await kubectl('get', 'pods,daemonsets', '-n', 'cm-test', '-o', 'name')).trim()).toBe('');
  }, 120_000);

  it('stops and restarts the API server while etcd keeps the data', async () => {
    const c = plane();
    await c.apply([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'survivor', namespace: 'default' }, data: { k: 'v' } }]);
    await c.stopApiServer('SIGKILL');
    const down = await fromClient(['get', '--raw', '/readyz']);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(/10\.255\.0\.1:6443 was refused/);
    await c.startApiServer();
    const r = await c.kubectl(['get', 'configmap', 'survivor', '-n', 'default', '-o', 'jsonpath={.data.k}']);
    expect(r.stdout).toBe('v');
    // The default stop is SIGTERM (a graceful shutdown) and must end as well.
    await c.stopApiServer();
    expect((await fromClient(['get', '--raw', '/readyz'])).code).not.toBe(0);
    await c.startApiServer();
    expect((await fromClient(['get', '--raw', '/readyz'])).stdout.trim()).toBe('ok');
  }, 120_000);

  it('leaves no process in the namespace and removes its files after stop()', async () => {
    const c = plane();
    await c.stop();
    cp = undefined;
    const pids = await run('ip', ['netns', 'pids', cpNs.name]);
    expect(pids.stdout.trim()).toBe('');
    expect(existsSync(c.kubeconfig)).toBe(false);
  });
});
