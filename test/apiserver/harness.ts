/**
 * Shared setup of the API-server test files: prerequisites, a lab namespace, a control plane on 127.0.0.1 inside
 * it, and the Route CRD installed and Established. One control plane per test file (files run one after another).
 */
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { routeCrd } from '../../core/index.js';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.js';
import { writeKubeconfig } from '../cluster/credentials.js';
import { NetnsLab } from '../net/netns.js';

/** The Route CRD's name. */
export const ROUTE_CRD_NAME = 'routes.networking.doks.digitalocean.com';

/** Building the binaries on a fresh machine takes minutes (measured in docs/control-plane.md). */
export const SETUP_TIMEOUT_MS = 20 * 60_000;

/** A started control plane with its lab; `stop()` tears both down. */
export interface ApiServerLab {
  readonly cp: ControlPlane;
  stop(): Promise<void>;
}

/** Starts a control plane in a fresh namespace; with `crd: true` installs the Route CRD and waits for Established. */
export async function startApiServerLab(opts: { readonly crd?: boolean } = {}): Promise<ApiServerLab> {
  const lab = new NetnsLab();
  try {
    const ns = await lab.add('cp');
    const cp = await startControlPlane({ netns: ns, address: '127.0.0.1' });
    const stop = async (): Promise<void> => {
      await cp.stop();
      await lab.cleanup();
    };
    try {
      if (opts.crd) {
        await cp.apply([routeCrd()]);
        const est = await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${ROUTE_CRD_NAME}`]);
        if (est.code !== 0) throw new Error(`the Route CRD did not become Established: ${est.stderr}`);
      }
    } catch (e) {
      await stop();
      throw e;
    }
    return { cp, stop };
  } catch (e) {
    await lab.cleanup();
    throw e;
  }
}

/** `kubectl apply --server-side --dry-run=server` of one or more objects as admin. */
export function dryRunApply(cp: ControlPlane, objects: readonly object[]): ReturnType<ControlPlane['kubectl']> {
  return cp.kubectl(['apply', '--server-side', '--dry-run=server', '--field-manager=kroute-test', '-f', '-'], {
    input: objects.map((o) => stringify(o)).join('---\n'),
  });
}

/**
 * A kubeconfig whose token is bound to a stand-in Pod of `serviceAccount` on `nodeName`, as a DaemonSet Pod's
 * projected token is: the API server adds `authentication.kubernetes.io/node-name` to its user info, which the
 * agent's node-restriction policy requires (core/agent-manifests.ts). There is no scheduler or kubelet here, so the
 * Pod is created with `spec.nodeName` set and never runs. The server is `cp.server`, or `cp.localServer` with
 * `{ local: true }`.
 */
export async function boundKubeconfigFor(cp: ControlPlane, serviceAccount: string, namespace: string, nodeName: string, opts: { readonly local?: boolean } = {}): Promise<string> {
  const pod = `${serviceAccount}-${nodeName}`.slice(0, 63).replace(/[^a-z0-9]$/, 'x');
  await cp.apply([{
    apiVersion: 'v1', kind: 'Pod', metadata: { name: pod, namespace },
    spec: { nodeName, serviceAccountName: serviceAccount, containers: [{ name: 'stand-in', image: 'registry.invalid/stand-in:never-run' }] },
  }]);
  const uid = await cp.kubectl(['get', 'pod', '-n', namespace, pod, '-o', 'jsonpath={.metadata.uid}']);
  if (uid.code !== 0) throw new Error(`reading Pod ${namespace}/${pod} failed: ${uid.stderr}`);
  const token = await cp.kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration=3600s',
    '--bound-object-kind', 'Pod', '--bound-object-name', pod, '--bound-object-uid', uid.stdout.trim()]);
  if (token.code !== 0) throw new Error(`minting a Pod-bound token for ${namespace}/${serviceAccount} on ${nodeName} failed: ${token.stderr.trim()}`);
  const path = join(dirname(cp.caFile), `${namespace}.${serviceAccount}.${nodeName}.${opts.local ? 'local.' : ''}kubeconfig`);
  return writeKubeconfig(path, opts.local ? cp.localServer : cp.server, cp.caFile, `system:serviceaccount:${namespace}:${serviceAccount}`, token.stdout.trim());
}
