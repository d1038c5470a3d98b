/**
 * Whether a deployment tool waits for the agent's rollout. Routes need only the Route CRD (Established); the
 * agent's Pods become ready whenever their image is pulled and their node is ready, and the agent then applies every
 * Route that exists. Waiting for the rollout ties a deployment to image pulls and node health (Pulumi's Kubernetes
 * provider waits up to 10 minutes, then fails), so the default is not to wait (docs/pulumi.md).
 */
import type { Manifest } from './manifest.js';

/** The annotation Pulumi's Kubernetes provider reads to skip waiting for a resource to become ready. */
export const PULUMI_SKIP_AWAIT_ANNOTATION = 'pulumi.com/skipAwait';

/** Whether to wait for the agent's rollout by default: no (see above). */
export const AWAIT_ROLLOUT_DEFAULT = false;

/** The workloads whose rollout a deployment tool would wait for: the agent's DaemonSet and the controller's Deployment. */
const WORKLOADS = new Set(['DaemonSet', 'Deployment']);

/**
 * The manifests with the workloads (the agent's DaemonSet, the controller's Deployment) annotated
 * `pulumi.com/skipAwait: "true"` unless `awaitRollout`; the other objects and the input are unchanged.
 */
export function withAwaitRollout(manifests: readonly Manifest[], awaitRollout: boolean = AWAIT_ROLLOUT_DEFAULT): Manifest[] {
  if (awaitRollout) return [...manifests];
  return manifests.map((m) =>
    !WORKLOADS.has(m.kind)
      ? m
      : { ...m, metadata: { ...m.metadata, annotations: { ...m.metadata.annotations, [PULUMI_SKIP_AWAIT_ANNOTATION]: 'true' } } },
  );
}
