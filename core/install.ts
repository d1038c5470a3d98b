/**
 * The whole install of the bundled agent, in apply order: Namespace (unless a system one), Route CRD, RBAC,
 * DaemonSet (and PodMonitor when asked), then per-node reporting (RouteReport CRD, its RBAC and policy, the controller). `dist/install.yaml`, the Helm chart, the cdk8s `RoutingAgent` and the Pulumi
 * `RoutingAgent` are all these objects (test/install/ compares them).
 */
import { AGENT_POD_SELECTOR, agentManifests, type ResolvedAgentManifestOptions } from './agent-manifests.js';
import { routeCrd } from './crd.js';
import { reportManifests } from './report-manifests.js';
import { AWAIT_ROLLOUT_DEFAULT, withAwaitRollout } from './rollout.js';
import { routeReportCrd } from './route-report.js';
import { commonLabels, KROUTE_VERSION, type Manifest } from './manifest.js';

/** The namespace of `dist/install.yaml` and of the documented Helm install (`helm install -n kroute-system`). */
export const INSTALL_NAMESPACE = 'kroute-system';

/** The agent's Namespace, or undefined for a namespace every cluster has (or with `createNamespace: false`). */
export function agentNamespace(r: ResolvedAgentManifestOptions): Manifest | undefined {
  if (!r.createNamespace) return undefined;
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: r.namespace, labels: { ...commonLabels('agent', KROUTE_VERSION), ...r.labels } } };
}

/** Group, version and kind of the Prometheus Operator's PodMonitor. */
export const POD_MONITOR_API_VERSION = 'monitoring.coreos.com/v1';

/**
 * A PodMonitor for the agents' metrics port. A PodMonitor, not a ServiceMonitor: the agents run on the host
 * network and need no Service; the Prometheus Operator scrapes each pod's `metrics` port directly.
 */
export function agentPodMonitor(r: ResolvedAgentManifestOptions): Manifest {
  return {
    apiVersion: POD_MONITOR_API_VERSION,
    kind: 'PodMonitor',
    metadata: { name: r.name, namespace: r.namespace, labels: { ...commonLabels('agent', KROUTE_VERSION), ...r.labels, ...r.podMonitorLabels } },
    spec: {
      selector: { matchLabels: { ...AGENT_POD_SELECTOR } },
      podMetricsEndpoints: [{ port: 'metrics', path: '/metrics' }],
    },
  };
}

/** What besides the agent an install carries. */
export interface InstallOptions {
  /** Emit the Route CRD (false when another tool installs it). @default true */
  readonly installCrd?: boolean;
  /** The CRD's CEL rules (Kubernetes 1.31+); false keeps only patterns. @default true */
  readonly celValidation?: boolean;
  /** Whether Pulumi waits for the agent's rollout; false annotates the DaemonSet `pulumi.com/skipAwait` (core/rollout.ts). @default false */
  readonly awaitRollout?: boolean;
}

/** The agent's part of an install, in apply order (Namespace first, CRD before anything that could use it). */
export function agentInstallManifests(r: ResolvedAgentManifestOptions, o: InstallOptions = {}): Manifest[] {
  const ns = agentNamespace(r);
  return [
    ...(ns ? [ns] : []),
    ...((o.installCrd ?? true) ? [routeCrd({ celValidation: o.celValidation ?? true })] : []),
    ...withAwaitRollout(agentManifests(r), o.awaitRollout ?? AWAIT_ROLLOUT_DEFAULT),
    ...(r.podMonitor ? [agentPodMonitor(r)] : []),
  ];
}

/**
 * Per-node reporting's part (docs/status.md): the RouteReport CRD (with the Route CRD), the agent's report RBAC and
 * policy, and the controller that summarizes reports into each Route. Kinds repeat here, so the faces name these
 * children by object name.
 */
export function reportInstallManifests(r: ResolvedAgentManifestOptions, o: InstallOptions = {}): Manifest[] {
  return [...((o.installCrd ?? true) ? [routeReportCrd()] : []), ...withAwaitRollout(reportManifests(r), o.awaitRollout ?? AWAIT_ROLLOUT_DEFAULT)];
}

/** Every object of an install, in apply order: the agent's part, then per-node reporting's. */
export function installManifests(r: ResolvedAgentManifestOptions, o: InstallOptions = {}): Manifest[] {
  return [...agentInstallManifests(r, o), ...reportInstallManifests(r, o)];
}
