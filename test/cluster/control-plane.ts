/**
 * A real Kubernetes control plane for tests: etcd, kube-apiserver and kube-controller-manager (built by
 * ./binaries.ts) running inside a network namespace the caller owns. The controller manager runs only the
 * controllers that need no kubelet and no cloud ({@link DEFAULT_CONTROLLERS}: garbage collection, DaemonSets,
 * namespaces, ServiceAccounts and their tokens, the root CA ConfigMap), so foreground deletion and a DaemonSet's
 * Pods behave as on a cluster; there is no scheduler and no kubelet, so Pods stay Pending. See docs/control-plane.md.
 *
 *   const cp = await startControlPlane({ netns, address: '10.200.0.2' });
 *   await cp.kubectl(['apply', '--server-side', '-f', '-'], { input: yaml });
 *   const agentConfig = await cp.kubeconfigFor('kroute-agent', 'kube-system');
 *   await cp.stop();
 */
import { request } from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { stringify } from 'yaml';
import type { Exec, Netns } from '../net/netns.js';
import { ensureBinaries, type ClusterBinaries } from './binaries.js';
import { writeCredentials, writeKubeconfig, type Credentials } from './credentials.js';
import { Daemon } from './daemon.js';
import { ApiRelay } from './relay.js';

/** Where and how to start the control plane. */
export interface ControlPlaneProps {
  /** The namespace etcd and kube-apiserver run in (etcd on its 127.0.0.1:2379/2380). */
  readonly netns: Netns;
  /** The IP the API server binds and advertises; must already be assigned inside `netns` (127.0.0.1 works). */
  readonly address: string;
  /** @default 6443 */
  readonly securePort?: number;
  /** Prebuilt binaries. @default ensureBinaries() (builds them on the first run) */
  readonly binaries?: ClusterBinaries;
  /** How long to wait for `/readyz`. @default 60000 */
  readonly readyTimeoutMs?: number;
  /**
   * Controllers kube-controller-manager runs (its `--controllers`); an empty list runs no controller manager (objects
   * are stored but nothing reconciles them). @default DEFAULT_CONTROLLERS
   */
  readonly controllers?: readonly string[];
}

/**
 * The controllers that work without a kubelet, a scheduler or a cloud. Not the node lifecycle controller: it would
 * mark the Nodes tests write NotReady (no kubelet renews their leases) and evict from them.
 */
export const DEFAULT_CONTROLLERS: readonly string[] = [
  'garbage-collector-controller',
  'daemonset-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
];

/** Options of {@link ControlPlane.kubectl}. */
export interface KubectlOptions {
  /** Written to kubectl's stdin (for `-f -`). */
  readonly input?: string;
  /** A kubeconfig other than the admin one (e.g. from `kubeconfigFor`, made with `local: false`). */
  readonly kubeconfig?: string;
  /** @default 60000 */
  readonly timeoutMs?: number;
}

/** A running control plane. */
export interface ControlPlane {
  /** Admin kubeconfig (token in system:masters) with `server`: for kubectl inside the namespace and for clients in namespaces routed to `address`. */
  readonly kubeconfig: string;
  /** `https://<address>:<port>`. */
  readonly server: string;
  /** Admin kubeconfig with `localServer`: for clients in the test process (root namespace). */
  readonly localKubeconfig: string;
  /** `https://127.0.0.1:<port>` in the root namespace, relayed to the API server (see ./relay.ts). */
  readonly localServer: string;
  /** The CA file that verifies the API server (its self-signed serving certificate). */
  readonly caFile: string;
  /** The static admin token (group system:masters). */
  readonly adminToken: string;
  /** The binaries in use. */
  readonly binaries: ClusterBinaries;
  /** Runs kubectl inside the namespace as admin (or with `opts.kubeconfig`); never throws on a non-zero exit. */
  kubectl(args: readonly string[], opts?: KubectlOptions): Promise<Exec>;
  /** Server-side applies `objects` as admin (field manager `kroute-test`); throws with kubectl's stderr. */
  apply(objects: readonly object[]): Promise<void>;
  /** Mints a ServiceAccount token (TokenRequest, 1 h); the ServiceAccount must exist. */
  mintToken(serviceAccount: string, namespace: string): Promise<string>;
  /**
   * Mints a token for the ServiceAccount and writes a kubeconfig for it; returns its path. The server is `server`,
   * or `localServer` with `{ local: true }`.
   */
  kubeconfigFor(serviceAccount: string, namespace: string, opts?: { readonly local?: boolean }): Promise<string>;
  /** Stops the API server process only (etcd keeps the data), for fault tests. @default signal SIGTERM */
  stopApiServer(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the API server again after `stopApiServer` and waits for `/readyz`. */
  startApiServer(): Promise<void>;
  /** The controllers kube-controller-manager runs (empty: none is running). */
  readonly controllers: readonly string[];
  /** Stops everything and removes the temporary folder; the namespace itself stays the caller's. */
  stop(): Promise<void>;
}

function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

/** GET /readyz through the relay; resolves the status code, or 0 when the connection fails. */
function readyz(port: number, ca: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', ca, headers: { authorization: `Bearer ${token}` }, timeout: 5000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

class RunningControlPlane implements ControlPlane {
  readonly server: string;
  readonly localServer: string;
  readonly kubeconfig: string;
  readonly localKubeconfig: string;
  private apiserver: Daemon | undefined;
  private controllerManager: Daemon | undefined;
  private tokens = 0;

  constructor(
    private readonly props: ControlPlaneProps & { readonly securePort: number },
    readonly binaries: ClusterBinaries,
    private readonly dir: string,
    private readonly creds: Credentials,
    private readonly etcd: Daemon,
    private readonly relay: ApiRelay,
  ) {
    this.server = `https://${urlHost(props.address)}:${props.securePort}`;
    this.localServer = `https://127.0.0.1:${relay.port}`;
    this.kubeconfig = join(dir, 'admin.kubeconfig');
    this.localKubeconfig = join(dir, 'admin-local.kubeconfig');
  }

  get controllers(): readonly string[] {
    return this.props.controllers ?? DEFAULT_CONTROLLERS;
  }

  get caFile(): string {
    return this.creds.caFile;
  }

  get adminToken(): string {
    return this.creds.adminToken;
  }

  /** Flags in the manner of controller-runtime's envtest; docs/control-plane.md says why each is there. */
  private apiserverArgs(): string[] {
    const c = this.creds;
    return [
      '--etcd-servers=http://127.0.0.1:2379',
      `--bind-address=${this.props.address}`,
      `--advertise-address=${this.props.address}`,
      `--secure-port=${this.props.securePort}`,
      `--cert-dir=${join(this.dir, 'certs')}`,
      `--tls-cert-file=${c.tlsCertFile}`,
      `--tls-private-key-file=${c.tlsKeyFile}`,
      `--token-auth-file=${c.tokenAuthFile}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${c.serviceAccountPublicKeyFile}`,
      `--service-account-signing-key-file=${c.serviceAccountSigningKeyFile}`,
      '--authorization-mode=RBAC',
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=true',
      '--profiling=false',
    ];
  }

  async startApiServer(): Promise<void> {
    if (this.apiserver?.running) throw new Error('the API server is already running');
    this.apiserver = new Daemon('kube-apiserver', this.props.netns, this.binaries.kubeApiserver, this.apiserverArgs(), join(this.dir, 'kube-apiserver.log'));
    await this.waitReady(this.props.readyTimeoutMs ?? 60_000);
  }

  /**
   * Starts kube-controller-manager as admin (system:masters) against `server`, without leader election (one
   * instance) and without a serving port (nothing scrapes it). Ready when its ServiceAccount controller has made
   * `default/default`, the first thing a user's workload needs from it.
   */
  async startControllerManager(): Promise<void> {
    if (this.controllers.length === 0) return;
    this.controllerManager = new Daemon('kube-controller-manager', this.props.netns, this.binaries.kubeControllerManager, [
      `--kubeconfig=${this.kubeconfig}`,
      '--leader-elect=false',
      `--controllers=${this.controllers.join(',')}`,
      '--secure-port=0',
      `--service-account-private-key-file=${this.creds.serviceAccountSigningKeyFile}`,
      `--root-ca-file=${this.creds.caFile}`,
      '--profiling=false',
    ], join(this.dir, 'kube-controller-manager.log'));
    if (!this.controllers.includes('serviceaccount-controller')) return;
    const deadline = Date.now() + (this.props.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (!this.controllerManager.running) {
        throw new Error(`kube-controller-manager exited while starting (log ${this.controllerManager.logFile}):\n${await this.controllerManager.logTail()}`);
      }
      if ((await this.kubectl(['get', 'serviceaccount', 'default', '-n', 'default', '-o', 'name'])).code === 0) return;
      if (Date.now() > deadline) throw new Error(`kube-controller-manager made no default ServiceAccount in time:\n${await this.controllerManager.logTail()}`);
      // Polling the API for the object the controller writes; 200 ms against a start of a few seconds.
      await delay(200);
    }
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const ca = await readFile(this.creds.caFile, 'utf8');
    const deadline = Date.now() + timeoutMs;
    let last = 0;
    for (;;) {
      for (const d of [this.etcd, this.apiserver]) {
        if (d && !d.running) throw new Error(`${d.name} exited while starting (log ${d.logFile}):\n${await d.logTail()}`);
      }
      last = await readyz(this.relay.port, ca, this.creds.adminToken);
      if (last === 200) return;
      if (Date.now() > deadline) {
        throw new Error(`kube-apiserver not ready after ${timeoutMs} ms (last /readyz: ${last || 'no answer'}):\n${await this.apiserver?.logTail()}`);
      }
      // Polling /readyz is how readiness is observed; 200 ms against a ~3 s start.
      await delay(200);
    }
  }

  async stopApiServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.apiserver?.stop(signal);
  }

  kubectl(args: readonly string[], opts: KubectlOptions = {}): Promise<Exec> {
    const base = ['--kubeconfig', opts.kubeconfig ?? this.kubeconfig, '--cache-dir', join(this.dir, 'kubectl-cache')];
    return this.props.netns.exec(this.binaries.kubectl, [...base, ...args], { input: opts.input, timeoutMs: opts.timeoutMs ?? 60_000 });
  }

  async apply(objects: readonly object[]): Promise<void> {
    const input = objects.map((o) => stringify(o)).join('---\n');
    const r = await this.kubectl(['apply', '--server-side', '--field-manager=kroute-test', '-f', '-'], { input });
    if (r.code !== 0) throw new Error(`kubectl apply failed (${r.code}): ${r.stderr.trim()}`);
  }

  async mintToken(serviceAccount: string, namespace: string): Promise<string> {
    const r = await this.kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration=3600s']);
    if (r.code !== 0) throw new Error(`minting a token for ${namespace}/${serviceAccount} failed: ${r.stderr.trim()}`);
    return r.stdout.trim();
  }

  async kubeconfigFor(serviceAccount: string, namespace: string, opts: { readonly local?: boolean } = {}): Promise<string> {
    const token = await this.mintToken(serviceAccount, namespace);
    const path = join(this.dir, `${namespace}.${serviceAccount}.${++this.tokens}.kubeconfig`);
    const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
    return writeKubeconfig(path, opts.local ? this.localServer : this.server, this.creds.caFile, user, token);
  }

  async stop(): Promise<void> {
    await this.relay.stop();
    // SIGTERM first: a clean etcd and API server exit; SIGKILL after 5 s (open watches can hold the API server).
    await this.controllerManager?.stop('SIGTERM', 5000);
    await this.apiserver?.stop('SIGTERM', 5000);
    await this.etcd.stop('SIGTERM', 5000);
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts etcd, kube-apiserver and kube-controller-manager inside `props.netns` and waits for `/readyz` and the
 * controller manager's first object. Builds the binaries first when the
 * cache has none (minutes; give the caller's beforeAll a long timeout). On failure everything started is stopped.
 */
export async function startControlPlane(props: ControlPlaneProps): Promise<ControlPlane> {
  const binaries = props.binaries ?? (await ensureBinaries({ log: (l) => console.log(`[control-plane] ${l}`) }));
  const securePort = props.securePort ?? 6443;
  const dir = await mkdtemp(join(tmpdir(), 'kroute-cp-'));
  const started: { stop(): Promise<void> }[] = [];
  try {
    const creds = await writeCredentials(dir, [props.address, '10.96.0.1']);
    const etcd = new Daemon('etcd', props.netns, binaries.etcd, [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      '--listen-client-urls=http://127.0.0.1:2379',
      '--advertise-client-urls=http://127.0.0.1:2379',
      '--listen-peer-urls=http://127.0.0.1:2380',
      '--initial-advertise-peer-urls=http://127.0.0.1:2380',
      '--initial-cluster=default=http://127.0.0.1:2380',
      // Test data lives in a temporary folder: durability buys nothing and fsync costs seconds on slow disks.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ], join(dir, 'etcd.log'));
    started.push(etcd);
    const relay = await ApiRelay.start(props.netns, join(dir, 'apiserver.sock'), props.address, securePort);
    started.push(relay);
    const cp = new RunningControlPlane({ ...props, securePort }, binaries, dir, creds, etcd, relay);
    started.splice(0, started.length, cp);
    await writeKubeconfig(cp.kubeconfig, cp.server, creds.caFile, 'kroute-test-admin', creds.adminToken);
    await writeKubeconfig(cp.localKubeconfig, cp.localServer, creds.caFile, 'kroute-test-admin', creds.adminToken);
    await cp.startApiServer();
    await cp.startControllerManager();
    return cp;
  } catch (e) {
    for (const s of started.reverse()) await s.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
