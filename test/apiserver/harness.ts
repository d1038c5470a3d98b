/**
 * Shared setup of the API-server test files: a lab with one namespace, a control plane on 127.0.0.1 inside it, and
 * the Route CRD installed and Established (test/lab/control-plane.ts). One control plane per test file (files run
 * one after another). `const lab = useApiServerLab({ crd: true })` does it for a Jest file in one line.
 */
import { dirname } from 'node:path';
import { describe } from '@jest/globals';
import { stringify } from 'yaml';
import { agentManifests, reportManifests, resolveAgentManifestOptions, routeCrd, routeReportCrd } from '../../core/index.js';
import { startControlPlane, type ControlPlane } from '../cluster/control-plane.js';
import { requireGoOrSkip } from '../cluster/prereq.js';
import { useBuilt } from '../lab/jest.js';
import { buildLab, type Lab } from '../lab/lab.js';
import { agentKubeconfig, standInNode, startLabControlPlane } from '../lab/control-plane.js';
import type { LabSpec } from '../lab/spec.js';
import { CONTROL_PLANE_V4, doNodeSpec, topologyOf, type Topology, type TopologyProps } from '../net/topology.js';

export { ROUTE_CRD_NAME } from '../lab/control-plane.js';

/** Building the binaries on a fresh machine takes minutes (measured in docs/control-plane.md). */
export const SETUP_TIMEOUT_MS = 20 * 60_000;

/** A started control plane with its lab; `stop()` tears both down. */
export interface ApiServerLab {
  readonly cp: ControlPlane;
  /** The lab the control plane runs in (its folder, onDestroy() for what must stop before it). */
  readonly lab: Lab;
  stop(): Promise<void>;
}

/** `describe` when the API-server tests can run; `describe.skip` only under KROUTE_ALLOW_MISSING=1 (../cluster/prereq.ts). */
export const describeWithApiServer: typeof describe.skip = (await requireGoOrSkip()) ? describe : describe.skip;

const resolved = resolveAgentManifestOptions();
if (!resolved.ok) throw new Error('the default agent options do not resolve');
/** The agent's default manifest options (its ServiceAccount and namespace among them). */
export const AGENT_OPTIONS = resolved.value;

/** One namespace for the control plane. */
export const API_SERVER_LAB: LabSpec = { name: 'a control plane on 127.0.0.1', namespaces: { cp: { label: 'etcd and kube-apiserver' } } };

/** Starts a control plane in a fresh namespace; with `crd: true` installs the Route CRD and waits for Established. */
export async function startApiServerLab(opts: { readonly crd?: boolean } = {}): Promise<ApiServerLab> {
  const lab = await buildLab(API_SERVER_LAB);
  try {
    const cp = await startLabControlPlane(lab, { address: '127.0.0.1', crd: opts.crd });
    return { cp, lab, stop: () => lab.destroy() };
  } catch (e) {
    await lab.destroy();
    throw e;
  }
}

/** The file's control plane: started before its tests, stopped after them (see startApiServerLab). */
export function useApiServerLab(opts: { readonly crd?: boolean } = {}): ApiServerLab {
  return useBuilt('the control plane', () => startApiServerLab(opts), (l) => l.lab, SETUP_TIMEOUT_MS);
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
export function boundKubeconfigFor(cp: ControlPlane, serviceAccount: string, namespace: string, nodeName: string, opts: { readonly local?: boolean } = {}): Promise<string> {
  return agentKubeconfig({ dir: dirname(cp.caFile) }, cp, { name: serviceAccount, namespace }, nodeName, opts);
}

/** Options of {@link useApiServerTopology}: the topology's, and what goes on its control plane before the tests. */
export interface ApiServerTopologyProps extends TopologyProps {
  /** Install the Route CRD and wait until it is Established. @default false */
  readonly crd?: boolean;
  /** The agent's synthesized objects (ServiceAccount, RBAC, node-restriction policy), not its DaemonSet. @default false */
  readonly agentObjects?: boolean;
  /** Per-node reporting too: the RouteReport CRD and, with `agentObjects`, its objects but the controller's Deployment. */
  readonly reports?: boolean;
  /** Stand-in Nodes (Ready, with these labels), each with the agent's kubeconfig bound to a stand-in Pod on it. */
  readonly nodes?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/** The DigitalOcean-shaped topology with a control plane in its control-plane namespace (198.18.0.10). */
export interface ApiServerTopology {
  readonly topo: Topology;
  /** The lab the topology is built on (onDestroy() for what must stop before the control plane). */
  readonly lab: Lab;
  /** The control plane running now. */
  readonly cp: ControlPlane;
  /** The agent's kubeconfig on `node` (one of `nodes`): a token bound to its stand-in Pod there. */
  kubeconfigOf(node: string): string;
  /** Stops the control plane and starts a fresh, empty one on the same address (nothing of `props` installed). */
  freshControlPlane(): Promise<ControlPlane>;
}

class RunningApiServerTopology implements ApiServerTopology {
  private current: ControlPlane | undefined;
  private readonly kubeconfigs = new Map<string, string>();

  constructor(readonly topo: Topology) {
    // Registered first, so stopped last: after the agents started in the topology.
    topo.built.onDestroy({ stop: () => this.stopControlPlane() });
  }

  get lab(): Lab {
    return this.topo.built;
  }

  get cp(): ControlPlane {
    if (!this.current) throw new Error('the control plane is not running');
    return this.current;
  }

  kubeconfigOf(node: string): string {
    const k = this.kubeconfigs.get(node);
    if (!k) throw new Error(`no agent kubeconfig for node ${JSON.stringify(node)} (nodes: ${[...this.kubeconfigs.keys()].join(', ')})`);
    return k;
  }

  async freshControlPlane(): Promise<ControlPlane> {
    await this.stopControlPlane();
    this.lab.assertOwned(this.topo.controlPlane);
    this.current = await startControlPlane({ netns: this.topo.controlPlane, address: CONTROL_PLANE_V4 });
    return this.current;
  }

  async prepare(props: ApiServerTopologyProps): Promise<void> {
    const cp = await this.freshControlPlane();
    const crds = [...(props.crd ? [routeCrd()] : []), ...(props.reports ? [routeReportCrd()] : [])];
    if (crds.length > 0) {
      await cp.apply(crds);
      const names = crds.map((c) => `crd/${c.metadata.name}`);
      const est = await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
      if (est.code !== 0) throw new Error(`${names.join(', ')} did not become Established: ${est.stderr}`);
    }
    if (props.agentObjects) {
      const objects = [...agentManifests(AGENT_OPTIONS), ...(props.reports ? reportManifests(AGENT_OPTIONS) : [])];
      await cp.apply(objects.filter((m) => m.kind !== 'DaemonSet' && m.kind !== 'Deployment'));
    }
    for (const [node, labels] of Object.entries(props.nodes ?? {})) {
      await standInNode(cp, node, labels);
      if (props.agentObjects) this.kubeconfigs.set(node, await agentKubeconfig(this.lab, cp, AGENT_OPTIONS, node));
    }
  }

  private async stopControlPlane(): Promise<void> {
    const cp = this.current;
    this.current = undefined;
    await cp?.stop();
  }
}

/** Builds the topology and prepares its control plane (see {@link ApiServerTopologyProps}); torn down on failure. */
export async function startApiServerTopology(props: ApiServerTopologyProps = {}): Promise<ApiServerTopology> {
  const topo = topologyOf(await buildLab(doNodeSpec(props)), props.gateways ?? 2);
  try {
    const t = new RunningApiServerTopology(topo);
    await t.prepare(props);
    return t;
  } catch (e) {
    await topo.destroy();
    throw e;
  }
}

/**
 * The shared setup of the end-to-end files on a real API server, in one line:
 * `const cluster = useApiServerTopology({ gateways: 2, crd: true, agentObjects: true, nodes: { 'node-a': {} } })`
 * builds the topology and its control plane before the file's tests, stops the agents started in it (startAgent,
 * runAgent), then the control plane, and destroys it after them; prints it when a test failed.
 */
export function useApiServerTopology(props: ApiServerTopologyProps = {}): ApiServerTopology {
  return useBuilt('the topology and its control plane', () => startApiServerTopology(props), (t) => t.lab, SETUP_TIMEOUT_MS);
}
