/**
 * The bundled agent's manifests: ServiceAccount, RBAC, DaemonSet. Built once here; the cdk8s constructs and the
 * Pulumi components only wrap these objects.
 */
import { fieldError, type FieldError, type Result } from './errors.js';
import { imageReference, validateImageRef, type ImageRef } from './image.js';
import { commonLabels, KROUTE_VERSION, type Manifest } from './manifest.js';
import { agentArgs, AGENT_OPTIONS, validateAgentConfig, type AgentConfig } from './options.js';
import { AGENT_SYSCTLS } from './plan/plan.js';
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
  /** @default "192Mi" (measured: docs/memory.md) */
  readonly memoryLimit?: string;
}

/** A pod toleration (core/v1 Toleration). */
export interface AgentToleration {
  /** Taint key; empty with operator Exists matches every taint. @default "" */
  readonly key?: string;
  /** Exists or Equal. @default "Equal" */
  readonly operator?: 'Exists' | 'Equal';
  /** Taint value, for Equal. @default "" */
  readonly value?: string;
  /** NoSchedule, PreferNoSchedule or NoExecute; empty matches all. @default "" */
  readonly effect?: string;
  /** How long a NoExecute taint is tolerated. @default forever */
  readonly tolerationSeconds?: number;
}

/** The node selector every agent pod has: the image is built for linux/amd64 only (agent/Containerfile). */
export const AGENT_PLATFORM_NODE_SELECTOR: Readonly<Record<string, string>> = {
  'kubernetes.io/os': 'linux',
  'kubernetes.io/arch': 'amd64',
};

/** The labels that select the agent's pods (DaemonSet selector, PodMonitor selector). */
export const AGENT_POD_SELECTOR: Readonly<Record<string, string>> = { 'app.kubernetes.io/name': 'kroute', 'app.kubernetes.io/component': 'agent' };

/** Namespaces that exist on every cluster: kroute never creates (or deletes) them. */
export const SYSTEM_NAMESPACES: readonly string[] = ['kube-system', 'default', 'kube-public'];

/** Every knob of the bundled agent's manifests, typed and defaulted. */
export interface AgentManifestOptions {
  /** Namespace of the agent (created unless a system one: `createNamespace`). @default "kube-system"; cdk8s: the chart's namespace when it has one */
  readonly namespace?: string;
  /** Name of the DaemonSet, ServiceAccount and RBAC objects. @default "kroute-agent" */
  readonly name?: string;
  /** The agent image. @default localhost/kroute/agent:<version> (build and load or push it: docs/install.md) */
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
  /**
   * Pod node selector (which nodes run the agent), added to `kubernetes.io/os: linux` and
   * `kubernetes.io/arch: amd64` (set `kubernetes.io/arch` here for an image of another architecture).
   * @default every linux/amd64 node
   */
  readonly podNodeSelector?: Readonly<Record<string, string>>;
  /** Pod tolerations. @default [{operator: "Exists"}]: a routing agent runs on every node, whatever its taints */
  readonly tolerations?: readonly AgentToleration[];
  /** Annotations on the agent pods. @default {} */
  readonly podAnnotations?: Readonly<Record<string, string>>;
  /** Names of Secrets (in the agent's namespace) to pull the image with. @default [] */
  readonly imagePullSecrets?: readonly string[];
  /**
   * Also emit a Prometheus Operator PodMonitor (monitoring.coreos.com/v1) for the agents' /metrics port; needs the
   * Prometheus Operator's CRDs on the cluster, and the metrics port on.
   * @default false
   */
  readonly podMonitor?: boolean;
  /** Labels on the PodMonitor (e.g. the `release` label a Prometheus's podMonitorSelector wants). @default {} */
  readonly podMonitorLabels?: Readonly<Record<string, string>>;
  /** Emit the Namespace object. @default true unless the namespace is kube-system, default or kube-public */
  readonly createNamespace?: boolean;
}

/** Where the DaemonSet mounts the host's sysctl files, writable (docs/security.md). */
export const HOST_SYSCTL_ROOT = '/host/proc/sys';

/**
 * The host sysctl files the agent writes, one hostPath each (type File) at the same path under HOST_SYSCTL_ROOT:
 * exactly the planner's AGENT_SYSCTLS, not the whole of /proc/sys/net (rp_filter, forwarding, ... stay out of reach).
 */
export function agentSysctlMounts(): { name: string; hostPath: string; mountPath: string }[] {
  return AGENT_SYSCTLS.map((s, i) => {
    const rel = s.key.replace(/\./g, '/');
    return { name: `sysctl-${i}`, hostPath: `/proc/sys/${rel}`, mountPath: `${HOST_SYSCTL_ROOT}/${rel}` };
  });
}
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
  readonly podNodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly AgentToleration[];
  readonly podAnnotations: Readonly<Record<string, string>>;
  readonly imagePullSecrets: readonly string[];
  readonly podMonitor: boolean;
  readonly podMonitorLabels: Readonly<Record<string, string>>;
  readonly createNamespace: boolean;
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
  (o.imagePullSecrets ?? []).forEach((n, i) => {
    if (!isDnsSubdomain(n)) errs.push(fieldError(`${path}.imagePullSecrets[${i}]`, 'Invalid', 'is not a valid Secret name', n));
  });
  (o.tolerations ?? []).forEach((t, i) => {
    if (t.operator !== undefined && t.operator !== 'Exists' && t.operator !== 'Equal') {
      errs.push(fieldError(`${path}.tolerations[${i}].operator`, 'NotSupported', 'must be Exists or Equal', t.operator));
    }
    if (t.effect !== undefined && !['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(t.effect)) {
      errs.push(fieldError(`${path}.tolerations[${i}].effect`, 'NotSupported', 'must be NoSchedule, PreferNoSchedule or NoExecute', t.effect));
    }
  });
  const metricsOn = (o.agent?.metricsPort ?? AGENT_OPTIONS.metricsPort.default) !== 0;
  if (o.podMonitor && !metricsOn) errs.push(fieldError(`${path}.podMonitor`, 'Invalid', 'needs the metrics port (agent.metricsPort is 0)', true));
  if (errs.length) return { ok: false, errors: errs };
  return {
    ok: true,
    value: {
      namespace,
      name,
      image: imageReference(o.image),
      imagePullPolicy: o.imagePullPolicy ?? 'IfNotPresent',
      agent: o.agent ?? {},
      resources: { cpuRequest: '20m', memoryRequest: '64Mi', cpuLimit: '200m', memoryLimit: '192Mi', ...(o.resources ?? {}) },
      priorityClassName: o.priorityClassName ?? 'system-node-critical',
      maxUnavailable: o.maxUnavailable ?? '10%',
      labels: { ...(o.labels ?? {}) },
      podNodeSelector: { ...AGENT_PLATFORM_NODE_SELECTOR, ...(o.podNodeSelector ?? {}) },
      tolerations: o.tolerations ?? [{ operator: 'Exists' }],
      podAnnotations: { ...(o.podAnnotations ?? {}) },
      imagePullSecrets: [...(o.imagePullSecrets ?? [])],
      podMonitor: o.podMonitor ?? false,
      podMonitorLabels: { ...(o.podMonitorLabels ?? {}) },
      createNamespace: o.createNamespace ?? !SYSTEM_NAMESPACES.includes(namespace),
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
    rules: [{ apiGroups: [''], resources: ['endpoints'], resourceNames: ['kubernetes'], verbs: ['get', 'list', 'watch'] }],
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

/** A Kubernetes memory quantity in MiB (binary and decimal suffixes; no suffix is bytes). */
export function quantityMiB(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(q);
  if (!m) return Number.NaN;
  const scale: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9 };
  return (Number(m[1]) * (m[2] ? (scale[m[2]] as number) : 1)) / 2 ** 20;
}

/**
 * The agent's V8 heap bounds, from its memory limit: V8 sizes its heap from the machine's memory, not the
 * container's, and collects lazily, so without a bound the peak resident memory followed garbage, not the live set
 * (301 MiB at 2,500 Routes × 4 destinations). The old generation gets 40% of the limit and the young generation
 * 1 MiB semi-spaces; Node itself (code, buffers) and the heap's slack take the rest: with the default 192Mi limit the
 * peak measured there was 144 MiB, 75% of it (docs/memory.md).
 */
export function agentNodeOptions(memoryLimit: string): string {
  const mib = quantityMiB(memoryLimit);
  const oldSpace = Number.isFinite(mib) ? Math.max(32, Math.floor(mib * 0.4)) : 0;
  return [...(oldSpace ? [`--max-old-space-size=${oldSpace}`] : []), '--max-semi-space-size=1'].join(' ');
}

/**
 * Agent options whose DaemonSet default differs from the agent's own: a DaemonSet reports per node (docs/status.md),
 * while an agent run by hand keeps the older per-Route status unless told otherwise.
 */
export const DAEMONSET_OPTION_DEFAULTS = { statusReports: 'node' } as const satisfies Partial<AgentConfig>;

/** The DaemonSet that runs the agent on every node. */
export function agentDaemonSet(r: ResolvedAgentManifestOptions): Manifest {
  const selector = { ...AGENT_POD_SELECTOR };
  const cfg = r.agent;
  const healthPort = cfg.healthPort ?? AGENT_OPTIONS.healthPort.default;
  const metricsPort = cfg.metricsPort ?? AGENT_OPTIONS.metricsPort.default;
  // Per-node reports and the controller (report-manifests.ts) ship with the agent: docs/status.md.
  const args = agentArgs({ sysctlRoot: HOST_SYSCTL_ROOT, ...DAEMONSET_OPTION_DEFAULTS, leaseNamespace: r.namespace, ...cfg });
  const ports = [
    ...(metricsPort ? [{ name: 'metrics', containerPort: metricsPort, protocol: 'TCP' }] : []),
    ...(healthPort ? [{ name: 'health', containerPort: healthPort, protocol: 'TCP' }] : []),
  ];
  // Under hostNetwork the kubelet probes the node's own address unless told otherwise; health listens on loopback.
  const healthHost = cfg.bindAddress ?? AGENT_OPTIONS.bindAddress.default;
  const probeHost = healthHost === '0.0.0.0' || healthHost === '::' ? {} : { host: healthHost };
  const probe = (path: string, periodSeconds: number) =>
    healthPort ? { httpGet: { path, port: 'health', ...probeHost }, periodSeconds, timeoutSeconds: 2, failureThreshold: 3 } : undefined;
  const sysctls = agentSysctlMounts();
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: meta(r, 'agent', true),
    spec: {
      selector: { matchLabels: selector },
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: r.maxUnavailable } },
      template: {
        metadata: {
          labels: { ...commonLabels('agent', KROUTE_VERSION), ...r.labels, ...selector },
          ...(Object.keys(r.podAnnotations).length ? { annotations: { ...r.podAnnotations } } : {}),
        },
        spec: {
          serviceAccountName: r.name,
          automountServiceAccountToken: true,
          hostNetwork: true,
          // The node's own resolv.conf: its nameservers are what an override must keep reachable.
          dnsPolicy: 'Default',
          priorityClassName: r.priorityClassName,
          // A routing agent must run on every node, whatever its taints (the default).
          tolerations: r.tolerations.map((t) => ({ ...t })),
          terminationGracePeriodSeconds: 30,
          nodeSelector: { ...r.podNodeSelector },
          ...(r.imagePullSecrets.length ? { imagePullSecrets: r.imagePullSecrets.map((name) => ({ name })) } : {}),
          securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'agent',
              image: r.image,
              imagePullPolicy: r.imagePullPolicy,
              args,
              env: [
                { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
                { name: 'NODE_OPTIONS', value: agentNodeOptions(r.resources.memoryLimit) },
              ],
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
                ...sysctls.map((m) => ({ name: m.name, mountPath: m.mountPath })),
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            ...sysctls.map((m) => ({ name: m.name, hostPath: { path: m.hostPath, type: 'File' } })),
            { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
          ],
        },
      },
    },
  };
}

/** The user-info key a Pod-bound ServiceAccount token carries its node's name under (Kubernetes 1.30+). */
export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
/** Suffix of the per-node finalizers (agent/kube/finalizers.ts: `<node>.nodes.kroute.dev/routes`). */
export const NODE_FINALIZER_SUFFIX = '.nodes.kroute.dev/routes';

/** The name of the node-restriction ValidatingAdmissionPolicy and its binding. */
export function nodeRestrictionPolicyName(r: ResolvedAgentManifestOptions): string {
  return `${r.name}-node-restriction`;
}

/**
 * What RBAC cannot say (it has no fields): the agent's `patch` on routes exists for its own finalizer, and its
 * `patch` on routes/status for its own entry. This policy holds that line per node, as NodeRestriction does for
 * kubelets, from the node name a DaemonSet Pod's projected token carries (`authentication.kubernetes.io/node-name`,
 * Kubernetes 1.30+; GA in 1.32). For the agent's ServiceAccount only:
 * - the token must be bound to a Pod on a node;
 * - spec, labels, annotations and owner references never change;
 * - the only finalizer added or removed is `<its node>.nodes.kroute.dev/routes`; on a Route already being deleted it
 *   may also remove other nodes' kroute finalizers (dead nodes' cleanup: it can only let a deletion finish sooner);
 * - in status.nodes only its own node's entry changes. The summary fields (appliedNodes, selectedNodes,
 *   conditions) are nobody's entry and stay writable. See docs/security.md.
 */
export function agentNodeRestrictionPolicy(r: ResolvedAgentManifestOptions): Manifest {
  const user = `system:serviceaccount:${r.namespace}:${r.name}`;
  const same = (field: string) =>
    `has(object.metadata.${field}) == has(oldObject.metadata.${field}) && (!has(object.metadata.${field}) || object.metadata.${field} == oldObject.metadata.${field})`;
  const others = (o: string) => `has(${o}.status) && has(${o}.status.nodes) ? ${o}.status.nodes.filter(e, e.nodeName != variables.nodeName) : []`;
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: meta(r, 'agent', false, nodeRestrictionPolicyName(r)),
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [{ apiGroups: [ROUTE_GROUP], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: [ROUTE_PLURAL, `${ROUTE_PLURAL}/status`] }],
      },
      matchConditions: [{ name: 'kroute-agent', expression: `request.userInfo.username == '${user}'` }],
      variables: [
        {
          name: 'nodeName',
          expression: `'${NODE_NAME_EXTRA}' in request.userInfo.extra && size(request.userInfo.extra['${NODE_NAME_EXTRA}']) == 1 ? request.userInfo.extra['${NODE_NAME_EXTRA}'][0] : ''`,
        },
        { name: 'finalizer', expression: `variables.nodeName + '${NODE_FINALIZER_SUFFIX}'` },
        // An empty subResource is absent from the request in CEL.
        { name: 'status', expression: "has(request.subResource) && request.subResource == 'status'" },
        { name: 'oldFinalizers', expression: 'oldObject != null && has(oldObject.metadata.finalizers) ? oldObject.metadata.finalizers : []' },
        { name: 'newFinalizers', expression: 'object != null && has(object.metadata.finalizers) ? object.metadata.finalizers : []' },
      ],
      validations: [
        {
          expression: "variables.nodeName != ''",
          message: `the kroute agent's token must be bound to a Pod on a node (user info ${NODE_NAME_EXTRA}); a token without a node may not write Routes`,
          reason: 'Forbidden',
        },
        { expression: "request.operation == 'UPDATE'", message: 'the kroute agent may not create or delete Routes', reason: 'Forbidden' },
        {
          expression: "variables.status || object.spec == oldObject.spec",
          message: "the kroute agent may not change a Route's spec",
          reason: 'Forbidden',
        },
        {
          expression: `variables.status || (${same('labels')} && ${same('annotations')} && ${same('ownerReferences')})`,
          message: "the kroute agent may not change a Route's labels, annotations or owner references",
          reason: 'Forbidden',
        },
        {
          expression: 'variables.newFinalizers.all(f, f in variables.oldFinalizers || f == variables.finalizer)',
          messageExpression: `'the kroute agent on node ' + variables.nodeName + ' may add only its own finalizer ' + variables.finalizer`,
          reason: 'Forbidden',
        },
        {
          expression: `variables.oldFinalizers.all(f, f in variables.newFinalizers || f == variables.finalizer || (has(oldObject.metadata.deletionTimestamp) && f.endsWith('${NODE_FINALIZER_SUFFIX}')))`,
          messageExpression: `'the kroute agent on node ' + variables.nodeName + ' may remove only its own finalizer ' + variables.finalizer + ' (kroute finalizers of other nodes only from a Route being deleted)'`,
          reason: 'Forbidden',
        },
        {
          expression: `!variables.status || (${others('object')}) == (${others('oldObject')})`,
          messageExpression: `'the kroute agent on node ' + variables.nodeName + ' may change only its own entry in status.nodes'`,
          reason: 'Forbidden',
        },
      ],
    },
  };
}

/** Binds the node-restriction policy cluster-wide, denying what it refuses. */
export function agentNodeRestrictionBinding(r: ResolvedAgentManifestOptions): Manifest {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: meta(r, 'agent', false, nodeRestrictionPolicyName(r)),
    spec: { policyName: nodeRestrictionPolicyName(r), validationActions: ['Deny'] },
  };
}

/** The bundled agent's RBAC, admission policy and DaemonSet, in apply order (the whole install: `installManifests()`). */
export function agentManifests(r: ResolvedAgentManifestOptions): Manifest[] {
  return [
    agentServiceAccount(r),
    agentClusterRole(r),
    agentClusterRoleBinding(r),
    agentEndpointsRole(r),
    agentEndpointsRoleBinding(r),
    agentNodeRestrictionPolicy(r),
    agentNodeRestrictionBinding(r),
    agentDaemonSet(r),
  ];
}
