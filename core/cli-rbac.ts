/**
 * The read-only access the `kroute` command needs (`kroute plan` and `kroute explain` against a cluster). It never
 * writes: no create, patch, update or delete on anything, so a token bound to this role cannot change the cluster.
 */
import { commonLabels, KROUTE_VERSION, type Manifest } from './manifest.js';
import { ROUTE_GROUP, ROUTE_PLURAL } from './route.js';

/** The ClusterRole's default name. */
export const CLI_VIEWER_ROLE = 'kroute-viewer';

/**
 * Each verb with its reason:
 * - routes get/list: every Route, with the status entries the agents wrote.
 * - nodes get/list: the node's labels (nodeSelector), and every node a Route could select.
 * - endpoints get `kubernetes`: the real API server addresses, kept on the original gateway during an override
 *   (the agent reads the same object); the rule names only that object.
 */
export function cliViewerClusterRole(name = CLI_VIEWER_ROLE): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name, labels: commonLabels('cli', KROUTE_VERSION) },
    rules: [
      { apiGroups: [ROUTE_GROUP], resources: [ROUTE_PLURAL], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] },
      { apiGroups: [''], resources: ['endpoints'], resourceNames: ['kubernetes'], verbs: ['get'] },
    ],
  };
}

/** Binds the viewer ClusterRole to a user, group or ServiceAccount (`kind` as in RBAC subjects). */
export function cliViewerClusterRoleBinding(subject: { readonly kind: 'User' | 'Group' | 'ServiceAccount'; readonly name: string; readonly namespace?: string }, name = CLI_VIEWER_ROLE): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: subject.kind === 'ServiceAccount' ? `${name}-${subject.namespace ?? 'default'}-${subject.name}` : `${name}-${subject.name}`, labels: commonLabels('cli', KROUTE_VERSION) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [subject.kind === 'ServiceAccount'
      ? { kind: 'ServiceAccount', name: subject.name, namespace: subject.namespace ?? 'default' }
      : { kind: subject.kind, name: subject.name, apiGroup: 'rbac.authorization.k8s.io' }],
  };
}
