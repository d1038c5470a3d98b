/**
 * The lab's control plane: a real etcd + kube-apiserver (test/cluster/control-plane.ts) in one of the lab's
 * namespaces, stopped by the lab before its namespaces go, with what the agent tests need on it written once: the
 * Route CRD installed and Established, a stand-in Node (no kubelet runs here, so its Ready condition is written as a
 * kubelet would), and the agent's kubeconfig holding a ServiceAccount token bound to a stand-in Pod on that node
 * (TokenRequest with a Pod as bound object, as a DaemonSet pod's projected token is; deleting the Pod revokes it).
 */
import { join } from 'node:path';
import { routeCrd } from '../../core/index.js';
import { startControlPlane, type ControlPlane, type ControlPlaneProps } from '../cluster/control-plane.js';
import { writeKubeconfig } from '../cluster/credentials.js';
import type { Lab } from './lab.js';

/** The Route CRD's name. */
export const ROUTE_CRD_NAME = 'routes.networking.doks.digitalocean.com';

/** Options of {@link startLabControlPlane}. */
export interface LabControlPlaneProps extends Omit<ControlPlaneProps, 'netns'> {
  /** The lab role the control plane runs in. @default 'cp' */
  readonly role?: string;
  /** Install the Route CRD and wait until it is Established. @default false */
  readonly crd?: boolean;
}

/** Starts a control plane in `lab` (stopped by `lab.destroy()`). */
export async function startLabControlPlane(lab: Lab, props: LabControlPlaneProps): Promise<ControlPlane> {
  const ns = lab.ns(props.role ?? 'cp');
  lab.assertOwned(ns);
  const cp = lab.onDestroy(await startControlPlane({ ...props, netns: ns }));
  if (props.crd) await installRouteCrd(cp);
  return cp;
}

/** Applies the core's Route CRD and waits until the API server reports it Established. */
export async function installRouteCrd(cp: ControlPlane): Promise<void> {
  await cp.apply([routeCrd()]);
  const est = await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${ROUTE_CRD_NAME}`]);
  if (est.code !== 0) throw new Error(`the Route CRD did not become Established: ${est.stderr}`);
}

/** Creates a Node object and marks it Ready through the status subresource, as a kubelet would. */
export async function standInNode(cp: ControlPlane, name: string, labels: Readonly<Record<string, string>> = {}): Promise<void> {
  await cp.apply([{ apiVersion: 'v1', kind: 'Node', metadata: { name, labels } }]);
  const now = new Date().toISOString();
  const ready = { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'stand-in node (no kubelet)', lastHeartbeatTime: now, lastTransitionTime: now }] } };
  const p = await cp.kubectl(['patch', 'node', name, '--subresource=status', '--type=merge', '-p', JSON.stringify(ready)]);
  if (p.code !== 0) throw new Error(`marking node ${name} Ready failed: ${p.stderr.trim()}`);
}

/** The agent's ServiceAccount. */
export interface AgentAccount {
  readonly name: string;
  readonly namespace: string;
}

/** The stand-in Pod's name for the agent on `node`. */
export function agentPodName(sa: AgentAccount, node: string): string {
  return `${sa.name}-${node}`;
}

/**
 * Creates a stand-in agent Pod on `node` (never run: no kubelet) and writes a kubeconfig into the lab's folder with a
 * token of the agent ServiceAccount bound to that Pod; returns its path. The server is the API server's address as
 * the lab's namespaces reach it (`cp.server`), or the local relay with `local: true`. The ServiceAccount must exist.
 */
export async function agentKubeconfig(lab: Pick<Lab, 'dir'>, cp: ControlPlane, sa: AgentAccount, node: string, opts: { readonly local?: boolean } = {}): Promise<string> {
  const pod = agentPodName(sa, node);
  await cp.apply([{
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: pod, namespace: sa.namespace, labels: { 'app.kubernetes.io/name': sa.name, 'kroute.dev/stand-in': 'true' } },
    spec: { nodeName: node, serviceAccountName: sa.name, automountServiceAccountToken: false, containers: [{ name: 'agent', image: 'localhost/kroute-agent:stand-in' }] },
  }]);
  const t = await cp.kubectl(['create', 'token', sa.name, '-n', sa.namespace, '--bound-object-kind', 'Pod', '--bound-object-name', pod, '--duration=3600s']);
  if (t.code !== 0) throw new Error(`minting a token bound to Pod ${sa.namespace}/${pod} failed: ${t.stderr.trim()}`);
  const path = join(lab.dir, `${sa.namespace}.${pod}${opts.local ? '.local' : ''}.kubeconfig`);
  return writeKubeconfig(path, opts.local ? cp.localServer : cp.server, cp.caFile, `system:serviceaccount:${sa.namespace}:${sa.name}`, t.stdout.trim());
}
