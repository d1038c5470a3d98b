/**
 * The whole install of the bundled agent, in apply order: Namespace (unless a system one), Route CRD, RBAC,
 * DaemonSet (and PodMonitor when asked). `dist/install.yaml`, the Helm chart, the cdk8s `RoutingAgent` and the Pulumi
 * `RoutingAgent` are all these objects (test/install/ compares them).
 */
import { agentManifests, agentNamespace, type ResolvedAgentManifestOptions } from './agent-manifests.js';
import { routeCrd } from './crd.js';
import type { Manifest } from './manifest.js';

/** The namespace of `dist/install.yaml` and of the documented Helm install (`helm install -n kroute-system`). */
export const INSTALL_NAMESPACE = 'kroute-system';

/** What besides the agent an install carries. */
export interface InstallOptions {
  /** Emit the Route CRD (false when another tool installs it). @default true */
  readonly installCrd?: boolean;
  /** The CRD's CEL rules (Kubernetes 1.31+); false keeps only patterns. @default true */
  readonly celValidation?: boolean;
}

/** Every object of an install, in apply order (Namespace first, CRD before anything that could use it). */
export function installManifests(r: ResolvedAgentManifestOptions, o: InstallOptions = {}): Manifest[] {
  const ns = agentNamespace(r);
  return [
    ...(ns ? [ns] : []),
    ...((o.installCrd ?? true) ? [routeCrd({ celValidation: o.celValidation ?? true })] : []),
    ...agentManifests(r),
  ];
}
