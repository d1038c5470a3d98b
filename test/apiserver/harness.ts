/**
 * Shared setup of the API-server test files: a lab with one namespace, a control plane on 127.0.0.1 inside it, and
 * the Route CRD installed and Established (test/lab/control-plane.ts). One control plane per test file (files run
 * one after another). `const lab = useApiServerLab({ crd: true })` does it for a Jest file in one line.
 */
import { dirname } from 'node:path';
import { describe } from '@jest/globals';
import { stringify } from 'yaml';
import { resolveAgentManifestOptions } from '../../core/index.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import { requireGoOrSkip } from '../cluster/prereq.js';
import { useBuilt } from '../lab/jest.js';
import { buildLab, type Lab } from '../lab/lab.js';
import { agentKubeconfig, startLabControlPlane } from '../lab/control-plane.js';
import type { LabSpec } from '../lab/spec.js';

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
