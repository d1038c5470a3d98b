/**
 * Manifests of per-node reporting (docs/status.md): what the agent needs to write its own RouteReport and
 * heartbeat Lease (RBAC, and a ValidatingAdmissionPolicy that holds each agent to its own node's objects), and
 * the controller that summarizes reports into Routes and holds their finalizer (ServiceAccount, RBAC, Deployment
 * with leader election). Built once here; cdk8s and Pulumi ship them beside agentManifests().
 */
import type { ResolvedAgentManifestOptions } from './agent-manifests.js';
import { commonLabels, KROUTE_VERSION, type Manifest } from './manifest.js';
import { ROUTE_GROUP, ROUTE_PLURAL } from './route.js';
import { NODE_LEASE_PREFIX, REPORT_GROUP, REPORT_PLURAL } from './route-report.js';

/** The user-info key a Pod-bound ServiceAccount token carries its node's name under (Kubernetes 1.30+). */
const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
/** The controller's own leader-election Lease (in the agent's namespace). */
export const CONTROLLER_LEADER_LEASE = 'kroute-controller-leader';
/** Where the controller's /healthz listens. */
export const CONTROLLER_HEALTH_PORT = 9182;
/** The controller's entry point inside the agent image (same image, another program). */
export const CONTROLLER_MAIN = '/app/lib/agent/controller/main.js';

function meta(r: ResolvedAgentManifestOptions, component: string, name: string, namespaced: boolean): Manifest['metadata'] {
  return { name, ...(namespaced ? { namespace: r.namespace } : {}), labels: { ...commonLabels(component, KROUTE_VERSION), ...r.labels } };
}

/** Name of the controller's Deployment, ServiceAccount and RBAC objects: `kroute-agent` gives `kroute-controller`. */
export function controllerName(r: ResolvedAgentManifestOptions): string {
  return r.name.endsWith('-agent') ? `${r.name.slice(0, -'-agent'.length)}-controller` : `${r.name}-controller`;
}

const rbac = 'rbac.authorization.k8s.io/v1';

/**
 * What the agent needs for its own report, besides agentClusterRole (its Route informer):
 * - routereports create/get/patch: its one report, named after its node (the policy below refuses any other);
 * - leases (in its namespace) create/get/patch: its heartbeat Lease `kroute-node-<node>` (likewise).
 * No list or watch: an agent never reads another node's report.
 */
export function agentReportRbac(r: ResolvedAgentManifestOptions): Manifest[] {
  const name = `${r.name}-report`;
  const subjects = [{ kind: 'ServiceAccount', name: r.name, namespace: r.namespace }];
  return [
    { apiVersion: rbac, kind: 'ClusterRole', metadata: meta(r, 'agent', name, false), rules: [{ apiGroups: [REPORT_GROUP], resources: [REPORT_PLURAL], verbs: ['create', 'get', 'patch'] }] },
    { apiVersion: rbac, kind: 'ClusterRoleBinding', metadata: meta(r, 'agent', name, false), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects },
    { apiVersion: rbac, kind: 'Role', metadata: meta(r, 'agent', name, true), rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'get', 'patch'] }] },
    { apiVersion: rbac, kind: 'RoleBinding', metadata: meta(r, 'agent', name, true), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects },
  ];
}

/** The name of the report-restriction policy and its binding. */
export function reportRestrictionPolicyName(r: ResolvedAgentManifestOptions): string {
  return `${r.name}-report-restriction`;
}

/**
 * RBAC has no per-object rule for objects that do not exist yet, so this policy holds each agent to its own node's
 * report and Lease, from the node name a DaemonSet Pod's projected token carries (as NodeRestriction does for
 * kubelets and their node Leases). For the agent's ServiceAccount only: the token must be bound to a Pod on a
 * node; the report must be named after that node and the Lease `kroute-node-<node>`; owner references may name
 * only that Node; nothing is deleted.
 */
export function agentReportRestrictionPolicy(r: ResolvedAgentManifestOptions): Manifest[] {
  const user = `system:serviceaccount:${r.namespace}:${r.name}`;
  const name = reportRestrictionPolicyName(r);
  return [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: meta(r, 'agent', name, false),
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: [REPORT_GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: [REPORT_PLURAL] },
            { apiGroups: ['coordination.k8s.io'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['leases'] },
          ],
        },
        matchConditions: [{ name: 'kroute-agent', expression: `request.userInfo.username == '${user}'` }],
        variables: [
          {
            name: 'nodeName',
            expression: `'${NODE_NAME_EXTRA}' in request.userInfo.extra && size(request.userInfo.extra['${NODE_NAME_EXTRA}']) == 1 ? request.userInfo.extra['${NODE_NAME_EXTRA}'][0] : ''`,
          },
          { name: 'own', expression: `request.resource.resource == 'leases' ? '${NODE_LEASE_PREFIX}' + variables.nodeName : variables.nodeName` },
        ],
        validations: [
          {
            expression: "variables.nodeName != ''",
            message: `the kroute agent's token must be bound to a Pod on a node (user info ${NODE_NAME_EXTRA}); a token without a node may not write reports or Leases`,
            reason: 'Forbidden',
          },
          { expression: "request.operation != 'DELETE'", message: 'the kroute agent may not delete reports or Leases', reason: 'Forbidden' },
          {
            expression: 'object.metadata.name == variables.own',
            messageExpression: `'the kroute agent on node ' + variables.nodeName + ' may write only ' + variables.own + ', not ' + object.metadata.name`,
            reason: 'Forbidden',
          },
          {
            expression: "!has(object.metadata.ownerReferences) || object.metadata.ownerReferences.all(o, o.kind == 'Node' && o.name == variables.nodeName)",
            messageExpression: `'the kroute agent on node ' + variables.nodeName + ' may name only its own Node as owner'`,
            reason: 'Forbidden',
          },
        ],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: meta(r, 'agent', name, false),
      spec: { policyName: name, validationActions: ['Deny'] },
    },
  ];
}

/**
 * The controller's least privilege:
 * - routes get/list/watch/patch: its informer, and its one finalizer per Route;
 * - routes/status patch: the summary (counts, Ready, the nodes not done);
 * - routereports get/list/watch: the nodes' reports (it never writes them);
 * - nodes get/list/watch: a report of a Node that is gone is not waited for;
 * - leases in its namespace: get/list/watch the agents' heartbeats; create/update its leader-election Lease.
 */
export function controllerRbac(r: ResolvedAgentManifestOptions): Manifest[] {
  const name = controllerName(r);
  const subjects = [{ kind: 'ServiceAccount', name, namespace: r.namespace }];
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(r, 'controller', name, true), automountServiceAccountToken: true },
    {
      apiVersion: rbac,
      kind: 'ClusterRole',
      metadata: meta(r, 'controller', name, false),
      rules: [
        { apiGroups: [ROUTE_GROUP], resources: [ROUTE_PLURAL], verbs: ['get', 'list', 'watch', 'patch'] },
        { apiGroups: [ROUTE_GROUP], resources: [`${ROUTE_PLURAL}/status`], verbs: ['patch'] },
        { apiGroups: [REPORT_GROUP], resources: [REPORT_PLURAL], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      ],
    },
    { apiVersion: rbac, kind: 'ClusterRoleBinding', metadata: meta(r, 'controller', name, false), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects },
    {
      apiVersion: rbac,
      kind: 'Role',
      metadata: meta(r, 'controller', name, true),
      rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'list', 'watch', 'create', 'update'] }],
    },
    { apiVersion: rbac, kind: 'RoleBinding', metadata: meta(r, 'controller', name, true), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name }, subjects },
  ];
}

/** The controller's arguments (its flags are its own, not the agent's). */
export function controllerArgs(r: ResolvedAgentManifestOptions): string[] {
  return [`--namespace=${r.namespace}`, `--leader-lease=${CONTROLLER_LEADER_LEASE}`, `--health-port=${CONTROLLER_HEALTH_PORT}`];
}

/**
 * The controller: two replicas, one leading (a coordination.k8s.io Lease), so a lost node costs a deletion at most
 * the leader Lease's 15 s. Same image as the agent, another entry point; no host network, no capability, not root.
 */
export function controllerDeployment(r: ResolvedAgentManifestOptions): Manifest {
  const name = controllerName(r);
  const selector = { 'app.kubernetes.io/name': 'kroute', 'app.kubernetes.io/component': 'controller' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(r, 'controller', name, true),
    spec: {
      replicas: 2,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...commonLabels('controller', KROUTE_VERSION), ...r.labels, ...selector } },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: true,
          priorityClassName: 'system-cluster-critical',
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: selector } } }],
            },
          },
          containers: [
            {
              name: 'controller',
              image: r.image,
              imagePullPolicy: r.imagePullPolicy,
              command: ['/usr/local/bin/node', CONTROLLER_MAIN],
              args: controllerArgs(r),
              env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
              ports: [{ name: 'health', containerPort: CONTROLLER_HEALTH_PORT, protocol: 'TCP' }],
              livenessProbe: { httpGet: { path: '/healthz', port: 'health' }, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
              // Ready when standing by, or leading with its informers listed; /metrics is on the same port.
              readinessProbe: { httpGet: { path: '/readyz', port: 'health' }, periodSeconds: 5, timeoutSeconds: 2 },
              resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
              securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } },
            },
          ],
        },
      },
    },
  };
}

/**
 * Everything per-node reporting adds to the bundled agent, in apply order: the agent's report RBAC and policy, then
 * the controller. The RouteReport CRD is separate (routeReportCrd), installed with the Route CRD.
 */
export function reportManifests(r: ResolvedAgentManifestOptions): Manifest[] {
  return [...agentReportRbac(r), ...agentReportRestrictionPolicy(r), ...controllerRbac(r), controllerDeployment(r)];
}

