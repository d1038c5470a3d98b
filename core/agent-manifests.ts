/**
 * The bundled agent's manifests: ServiceAccount, RBAC, DaemonSet. Built once here; the cdk8s constructs and the
 * Pulumi components only wrap these objects.
 */
import { fieldError, type FieldError, type Result } from './errors.js';
import { imageReference, validateImageRef, type ImageRef } from './image.js';
import { commonLabels, KROUTE_VERSION, type Manifest } from './manifest.js';
import { agentArgs, AGENT_OPTIONS, validateAgentConfig, type AgentConfig } from './options.js';
import { ROUTE_GROUP, ROUTE_PLURAL } from './route.js';
import { isDnsSubdomain } from './validate.js';

/** Resource requests and limits of the agent container. */
export interface AgentResources {
  /** @default "20m" */
  readonly cpuRequest?: string;
  /** @default "64Mi" */
  readonly memoryRequest?: string;
  /** @default "200m" */
  readonly cpuLimit?: string;
  /** @default "128Mi" */
  readonly memoryLimit?: string;
}

/** Every knob of the bundled agent's manifests, typed and defaulted. */
export interface AgentManifestOptions {
  /** Namespace of the agent. @default "kube-system" */
  readonly namespace?: string;
  /** Name of the DaemonSet, ServiceAccount and RBAC objects. @default "kroute-agent" */
  readonly name?: string;
  /** The agent image. @default ghcr.io/kroute/agent:<version> */
  readonly image?: ImageRef;
  /** @default "IfNotPresent" */
  readonly imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Agent options (probe interval, interface, table 135, rule 15135, ...); unset ones keep the agent's defaults. */
  readonly agent?: Partial<AgentConfig>;
  /** @default see AgentResources */
  readonly resources?: AgentResources;
  /** @default "system-node-critical" */
  readonly priorityClassName?: string;
  /** Pods unavailable at once during a rolling update. @default "10%" */
  readonly maxUnavailable?: string;
  /** Labels added to every object. @default {} */
  readonly labels?: Readonly<Record<string, string>>;
  /** Pod node selector (which nodes run the agent). @default every node */
  readonly podNodeSelector?: Readonly<Record<string, string>>;
}

/** Where the DaemonSet mounts the host's /proc/sys/net, writable (see docs/sysctls.md). */
export const HOST_SYSCTL_ROOT = '/host/proc/sys';
/** Capabilities the agent adds; every other one is dropped. */
export const AGENT_CAPABILITIES = ['NET_ADMIN', 'NET_RAW'] as const;

/** The resolved knobs, every default filled in. */
export interface ResolvedAgentManifestOptions {
  readonly namespace: string;
  readonly name: string;
  readonly image: string;
  readonly imagePullPolicy: string;
  readonly agent: Partial<AgentConfig>;
  readonly resources: Required<AgentResources>;
  readonly priorityClassName: string;
  readonly maxUnavailable: string;
  readonly labels: Record<string, string>;
  readonly podNodeSelector?: Readonly<Record<string, string>>;
}

/** Fills in defaults and checks every knob; errors name the field and value. */
export function resolveAgentManifestOptions(o: AgentManifestOptions = {}, path = 'agent'): Result<ResolvedAgentManifestOptions> {
  const errs: FieldError[] = [];
  const namespace = o.namespace ?? 'kube-system';
  const name = o.name ?? 'kroute-agent';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) {
    errs.push(fieldError(`${path}.namespace`, 'Invalid', 'is not a valid namespace name (RFC 1123 label)', namespace));
  }
  if (!isDnsSubdomain(name) || name.length > 63) errs.push(fieldError(`${path}.name`, 'Invalid', 'is not a valid object name', name));
  errs.push(...validateImageRef(o.image ?? {}, `${path}.image`));
  errs.push(...validateAgentConfig(o.agent ?? {}, `${path}.agent`));
  if (o.maxUnavailable !== undefined && !/^([1-9][0-9]*|[1-9][0-9]?%|100%)$/.test(o.maxUnavailable)) {
    errs.push(fieldError(`${path}.maxUnavailable`, 'Invalid', 'must be a count such as "1" or a percentage such as "10%"', o.maxUnavailable));
  }
  const quantity = /^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|k|M|G)?$/;
  for (const [k, v] of Object.entries(o.resources ?? {})) {
    if (typeof v !== 'string' || !quantity.test(v)) errs.push(fieldError(`${path}.resources.${k}`, 'Invalid', 'is not a Kubernetes quantity such as 100m or 64Mi', v));
  }
  if (errs.length) return { ok: false, errors: errs };
  return {
    ok: true,
    value: {
      namespace,
      name,
      image: imageReference(o.image),
      imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
      agent: o.agent ?? {},
      resources: { cpuRequest: '20m', memoryRequest: '64Mi', cpuLimit: '200m', memoryLimit: '128Mi', ...(o.resources ?? {}) },
      priorityClassName: o.priorityClassName ?? 'system-node-critical',
      maxUnavailable: o.maxUnavailable ?? '10%',
      labels: { ...(o.labels ?? {}) },
      ...(o.podNodeSelector ? { podNodeSelector: o.podNodeSelector } : {}),
    },
  };
}

function meta(r: ResolvedAgentManifestOptions, component: string, namespaced: boolean, name = r.name): Manifest['metadata'] {
  return {
    name,
    ...(namespaced ? { namespace: r.namespace } : {}),
    labels: { ...commonLabels(component, KROUTE_VERSION), ...r.labels },
  };
}

/** The ServiceAccount the agent runs as. */
export function agentServiceAccount(r: ResolvedAgentManifestOptions): Manifest {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(r, 'agent', true), automountServiceAccountToken: true };
}

/**
 * Least privilege, each verb with its reason:
 * - routes get/list/watch: the informer that feeds the reconciler.
 * - routes patch: server-side apply of this node's own finalizer (metadata.finalizers is a set in SSA, so each
 *   node owns exactly its entry), and removal of finalizers left by nodes that no longer exist.
 * - routes/status patch: server-side apply of this node's own entry in status.nodes.
 * - nodes get/list/watch: this node's labels (for nodeSelector), and whether the nodes named in finalizers exist.
 * - events create/patch: Kubernetes Events on failures and gateway changes.
 */
export function agentClusterRole(r: ResolvedAgentManifestOptions): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: meta(r, 'agent', false),
    rules: [
      { apiGroups: [ROUTE_GROUP], resources: [ROUTE_PLURAL], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [ROUTE_GROUP], resources: [`${ROUTE_PLURAL}/status`], verbs: ['patch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    ],
  };
}

/** Binds the ClusterRole to the agent's ServiceAccount (the subject names its namespace: cdk8s-core#731). */
export function agentClusterRoleBinding(r: ResolvedAgentManifestOptions): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: meta(r, 'agent', false),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: r.name },
    subjects: [{ kind: 'ServiceAccount', name: r.name, namespace: r.namespace }],
  };
}

/**
 * Reads the `kubernetes` Endpoints in `default`, and only that object: the real API server addresses, which the
 * agent keeps on the node's original gateway when it overrides the default route (not the service ClusterIP).
 */
export function agentEndpointsRole(r: ResolvedAgentManifestOptions): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { ...meta(r, 'agent', false, `${r.name}-apiserver-endpoints`), namespace: 'default' },
    rules: [{ apiGroups: [''], resources: ['endpoints'], resourceNames: ['kubernetes'], verbs: ['get'] }],
  };
}

/** Binds the endpoints Role to the agent's ServiceAccount. */
export function agentEndpointsRoleBinding(r: ResolvedAgentManifestOptions): Manifest {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { ...meta(r, 'agent', false, `${r.name}-apiserver-endpoints`), namespace: 'default' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${r.name}-apiserver-endpoints` },
    subjects: [{ kind: 'ServiceAccount', name: r.name, namespace: r.namespace }],
  };
}

/** The DaemonSet that runs the agent on every node. */
export function agentDaemonSet(r: ResolvedAgentManifestOptions): Manifest {
  const selector = { 'app.kubernetes.io/name': 'kroute', 'app.kubernetes.io/component': 'agent' };
  const cfg = r.agent;
  const healthPort = cfg.healthPort ?? AGENT_OPTIONS.healthPort.default;
  const metricsPort = cfg.metricsPort ?? AGENT_OPTIONS.metricsPort.default;
  // Per-node reports and the controller (report-manifests.ts) ship with the agent: docs/status.md.
  const args = agentArgs({ sysctlRoot: HOST_SYSCTL_ROOT, statusReports: 'node', leaseNamespace: r.namespace, ...cfg });
  const ports = [
    ...(metricsPort ? [{ name: 'metrics', containerPort: metricsPort, protocol: 'TCP' }] : []),
    ...(healthPort ? [{ name: 'health', containerPort: healthPort, protocol: 'TCP' }] : []),
  ];
  const probe = (path: string, periodSeconds: number) =>
    healthPort ? { httpGet: { path, port: 'health' }, periodSeconds, timeoutSeconds: 2, failureThreshold: 3 } : undefined;
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta(r, 'agent', true),
    spec: {
      selector: { matchLabels: selector },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: r.maxUnavailable } },
      template: {
        metadata: { labels: { ...commonLabels('agent', KROUTE_VERSION), ...r.labels, ...selector } },
        spec: {
          serviceAccountName: r.name,
          automountServiceAccountToken: true,
          hostNetwork: true,
          // The node's own resolv.conf: its nameservers are what an override must keep reachable.
          dnsPolicy: 'Default',
          priorityClassName: r.priorityClassName,
          // A routing agent must run on every node, whatever its taints.
          tolerations: [{ operator: 'Exists' }],
          terminationGracePeriodSeconds: 30,
          ...(r.podNodeSelector ? { nodeSelector: r.podNodeSelector } : {}),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'agent',
              image: r.image,
              imagePullPolicy: r.imagePullPolicy,
              args,
              env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
              ports,
              ...(healthPort ? { livenessProbe: probe('/healthz', 10), readinessProbe: probe('/readyz', 5) } : {}),
              resources: {
                requests: { cpu: r.resources.cpuRequest, memory: r.resources.memoryRequest },
                limits: { cpu: r.resources.cpuLimit, memory: r.resources.memoryLimit },
              },
              securityContext: {
                // Root with only NET_ADMIN and NET_RAW: capabilities do not survive a switch to a non-root user
                // without ambient capabilities (docs/security.md).
                runAsUser: 0,
                runAsGroup: 0,
                runAsNonRoot: false,
                privileged: false,
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'], add: [...AGENT_CAPABILITIES] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
              volumeMounts: [
                { name: 'host-sysctl-net', mountPath: `${HOST_SYSCTL_ROOT}/net` },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'host-sysctl-net', hostPath: { path: '/proc/sys/net', type: 'Directory' } },
            { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  };
}

/** Every object of the bundled agent except the CRD, in apply order. */
export function agentManifests(r: ResolvedAgentManifestOptions): Manifest[] {
  return [
    agentServiceAccount(r),
    agentClusterRole(r),
    agentClusterRoleBinding(r),
    agentEndpointsRole(r),
    agentEndpointsRoleBinding(r),
    agentDaemonSet(r),
  ];
}
