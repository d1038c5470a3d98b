/**
 * The agent's and the node selectors' knobs as flat props, shared by the cdk8s constructs (`RoutingAgentProps`,
 * compiled with jsii for Python, Java, Go) and the Pulumi components (`RoutingAgentArgs`, whose multi-language
 * schema Pulumi's analyzer reads from these declarations). Both tools want the same shape: interfaces of optional
 * primitives, string enums instead of literal unions, plain `T[]` instead of `readonly T[]`, string maps.
 *
 * `AgentSettings` has one field per agent option of `AGENT_OPTIONS` except the options the DaemonSet sets per node
 * or ties to its own mounts (`PER_NODE_OPTIONS`); test/packaging/props.test.ts holds it to that table, field by
 * field, type and `@default` text. Not exported from core/index.ts: its enums share names with the core's unions.
 */
import { fieldError, type FieldError, type Result } from './errors.js';
import type { AgentManifestOptions, AgentResources, ResolvedAgentManifestOptions } from './agent-manifests.js';
import { resolveAgentManifestOptions } from './agent-manifests.js';
import type { ImageRef } from './image.js';
import { AGENT_OPTIONS, type AgentConfig, type AgentOptionName } from './options.js';
import type { NodeSelector as CoreNodeSelector } from './route.js';

/** When to pull the agent image. */
export enum ImagePullPolicy {
  ALWAYS = 'Always',
  IF_NOT_PRESENT = 'IfNotPresent',
  NEVER = 'Never',
}

/** What the agent does when every gateway of a default-route override is down (docs/design.md). */
export enum OverrideFailMode {
  /** Keep the override; traffic drops rather than leaving from the node's own IP. */
  CLOSED = 'closed',
  /** Fall back to the node's own default route; egress leaves from the node's IP. */
  OPEN = 'open',
}

/** Agent log verbosity. */
export enum AgentLogLevel {
  DEBUG = 'debug',
  INFO = 'info',
  WARN = 'warn',
  ERROR = 'error',
}

/** Where each node reports (docs/status.md). */
export enum StatusReportsMode {
  /** Its own RouteReport and heartbeat Lease, summarized by kroute's controller (scales to 1,000 nodes). */
  NODE = 'node',
  /** Its entry and finalizer in every Route (the older design). */
  ROUTE = 'route',
}

/**
 * Agent options the DaemonSet decides itself, never taken from props: the node's name and labels come from the
 * node (one value for every pod would make every agent believe it is that node), file mode and a kubeconfig are
 * for running the agent by hand, the sysctl root and resolv.conf are where the pod's mounts put them, and the
 * forwarding prober is where the image puts it.
 */
export const PER_NODE_OPTIONS = ['routes', 'nodeName', 'nodeLabels', 'kubeconfig', 'sysctlRoot', 'resolvConf', 'leaseNamespace', 'forwardProber'] as const;

/** Agent options; each unset one keeps the agent's default (the core's `AGENT_OPTIONS`). */
export interface AgentSettings {
  /** Seconds between ICMP probes of each gateway (DOKS: 30). @default 30 */
  readonly probeIntervalSeconds?: number;
  /** Seconds to wait for one probe reply. @default 1 */
  readonly probeTimeoutSeconds?: number;
  /** Consecutive failed probes that take a gateway out of rotation. @default 3 */
  readonly probeFallCount?: number;
  /** Consecutive answered probes that put a gateway back (DOKS: 1). @default 1 */
  readonly probeRiseCount?: number;
  /** Most gateways probed on one node; the rest are assumed up, and the node says so. @default 64 */
  readonly probeMaxGateways?: number;
  /** Address probed through each gateway to check it forwards; empty disables. @default "" */
  readonly forwardProbeTarget?: string;
  /** Interface that carries the node's public address (DigitalOcean: eth0). @default "eth0" */
  readonly publicInterface?: string;
  /** Keep replies to traffic that came in on the public interface on it (table and rule). @default true */
  readonly symmetricRouting?: boolean;
  /** Routing table of symmetric routing (DOKS: 135, eth0table). @default 135 */
  readonly symmetricTable?: number;
  /** Priority of the symmetric-routing ip rule (DOKS: 15135). @default 15135 */
  readonly symmetricRulePriority?: number;
  /** rtm_protocol number that marks the routes kroute owns. @default 145 */
  readonly routeProtocol?: number;
  /** API server addresses kept on the node's gateway during an override; empty: discovered. @default [] */
  readonly controlPlaneAddresses?: string[];
  /** Other addresses kept on the node's gateway during an override (metadata service). @default ["169.254.169.254"] */
  readonly keepAddresses?: string[];
  /** Behaviour when every gateway of an override is down. @default "closed" */
  readonly overrideFailMode?: OverrideFailMode;
  /** Roll an override back unless the API server answers within this many seconds. @default 30 */
  readonly overrideConfirmSeconds?: number;
  /** Seconds between full resyncs of the kernel state. @default 60 */
  readonly resyncSeconds?: number;
  /** Port of /healthz and /readyz (0 disables). @default 9181 */
  readonly healthPort?: number;
  /** Port of /metrics (0 disables). @default 9180 */
  readonly metricsPort?: number;
  /** Address /healthz and /readyz listen on (the kubelet probes 127.0.0.1 under hostNetwork). @default "127.0.0.1" */
  readonly bindAddress?: string;
  /** Address /metrics listens on: an IP, or "private" for the node's first private address. @default "127.0.0.1" */
  readonly metricsBindAddress?: string;
  /** Log verbosity; logs are JSON lines on stderr. @default "info" */
  readonly logLevel?: AgentLogLevel;
  /** Where each node reports: its own RouteReport (node) or its entry in every Route (route). @default "node" */
  readonly statusReports?: StatusReportsMode;
  /** Plan and log what each pass would change; write nothing (kernel, sysctls, API server). @default false */
  readonly dryRun?: boolean;
}

/** Where the agent image comes from. */
export interface AgentImageArgs {
  /** @default "localhost" */
  readonly registry?: string;
  /** @default "kroute/agent" */
  readonly repository?: string;
  /** Ignored when `digest` is set. @default the kroute version */
  readonly tag?: string;
  /** `sha256:...`, pins the image exactly. @default none */
  readonly digest?: string;
}

/** Requests and limits of the agent container. */
export interface AgentResourcesArgs {
  /** @default "20m" */
  readonly cpuRequest?: string;
  /** @default "64Mi" */
  readonly memoryRequest?: string;
  /** @default "200m" */
  readonly cpuLimit?: string;
  /** @default "192Mi" (measured: docs/memory.md) */
  readonly memoryLimit?: string;
}

/** The knobs of the bundled agent's manifests. */
export interface AgentManifestArgs {
  /** Namespace of the agent. @default "kube-system" */
  readonly namespace?: string;
  /** Name of the DaemonSet, ServiceAccount and RBAC objects. @default "kroute-agent" */
  readonly name?: string;
  /** The agent image. @default localhost/kroute/agent:<version> (build and load or push it: docs/install.md) */
  readonly image?: AgentImageArgs;
  /** @default ImagePullPolicy.IF_NOT_PRESENT */
  readonly imagePullPolicy?: ImagePullPolicy;
  /** Agent options. @default the agent's defaults */
  readonly agent?: AgentSettings;
  /** @default see AgentResourcesArgs */
  readonly resources?: AgentResourcesArgs;
  /** @default "system-node-critical" */
  readonly priorityClassName?: string;
  /** Pods unavailable at once during a rolling update. @default "10%" */
  readonly maxUnavailable?: string;
  /** Labels added to every object. @default {} */
  readonly labels?: { [key: string]: string };
  /** Pod node selector, added to kubernetes.io/os: linux and kubernetes.io/arch: amd64. @default every linux/amd64 node */
  readonly podNodeSelector?: { [key: string]: string };
  /** Pod tolerations. @default [{operator: "Exists"}]: a routing agent runs on every node, whatever its taints */
  readonly tolerations?: AgentTolerationArgs[];
  /** Annotations on the agent pods. @default {} */
  readonly podAnnotations?: { [key: string]: string };
  /** Names of Secrets (in the agent's namespace) to pull the image with. @default [] */
  readonly imagePullSecrets?: string[];
  /** Also create a Prometheus Operator PodMonitor for the agents' metrics port (needs its CRDs). @default false */
  readonly podMonitor?: boolean;
  /** Labels on the PodMonitor (e.g. `release` for a Prometheus's podMonitorSelector). @default {} */
  readonly podMonitorLabels?: { [key: string]: string };
  /** Create the namespace (false when it exists already). @default true unless kube-system, default or kube-public */
  readonly createNamespace?: boolean;
}

/** How a toleration matches a taint. */
export enum TolerationOperator {
  EXISTS = 'Exists',
  EQUAL = 'Equal',
}

/** core/v1 Toleration of the agent pods. */
export interface AgentTolerationArgs {
  /** Taint key; empty with operator Exists matches every taint. @default "" */
  readonly key?: string;
  /** Exists or Equal. @default TolerationOperator.EQUAL */
  readonly operator?: TolerationOperator;
  /** Taint value, for Equal. @default "" */
  readonly value?: string;
  /** NoSchedule, PreferNoSchedule or NoExecute; empty matches all. @default "" */
  readonly effect?: string;
  /** How long a NoExecute taint is tolerated. @default forever */
  readonly tolerationSeconds?: number;
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Maps the flat props onto the core's options, leaving unset fields unset so the core's defaults apply. */
export function agentManifestOptions(a: AgentManifestArgs): AgentManifestOptions {
  const agent: Partial<AgentConfig> | undefined = a.agent ? (defined({ ...a.agent }) as Partial<AgentConfig>) : undefined;
  return defined({
    namespace: a.namespace,
    name: a.name,
    image: a.image ? (defined({ ...a.image }) as ImageRef) : undefined,
    imagePullPolicy: a.imagePullPolicy,
    agent,
    resources: a.resources ? (defined({ ...a.resources }) as AgentResources) : undefined,
    priorityClassName: a.priorityClassName,
    maxUnavailable: a.maxUnavailable,
    labels: a.labels,
    podNodeSelector: a.podNodeSelector,
    tolerations: a.tolerations?.map((t) => defined({ ...t })),
    podAnnotations: a.podAnnotations,
    imagePullSecrets: a.imagePullSecrets,
    podMonitor: a.podMonitor,
    podMonitorLabels: a.podMonitorLabels,
    createNamespace: a.createNamespace,
  }) as AgentManifestOptions;
}

/**
 * Checks and resolves the faces' props: an agent option that the DaemonSet sets per node (`nodeName`, ...) is
 * refused by name (JavaScript callers are not held back by the types), then the core resolves the rest.
 */
export function resolveAgentManifestArgs(a: AgentManifestArgs, path: string): Result<ResolvedAgentManifestOptions> {
  const errs: FieldError[] = [];
  for (const k of Object.keys(a.agent ?? {})) {
    if ((PER_NODE_OPTIONS as readonly string[]).includes(k)) {
      const o = AGENT_OPTIONS[k as AgentOptionName];
      errs.push(fieldError(`${path}.agent.${k}`, 'Forbidden', `is set by the DaemonSet on each node (--${o.flag}); it cannot be one value for every pod`));
    }
  }
  const r = resolveAgentManifestOptions(agentManifestOptions(a), path);
  if (errs.length === 0) return r;
  return { ok: false, errors: [...errs, ...(r.ok ? [] : r.errors)] };
}

/** Operator of a node-selector requirement (the four DigitalOcean's Route documents). */
export enum SelectorOperator {
  IN = 'In',
  NOT_IN = 'NotIn',
  EXISTS = 'Exists',
  DOES_NOT_EXIST = 'DoesNotExist',
}

/** core/v1 NodeSelectorRequirement. */
export interface NodeSelectorRequirementArgs {
  /** Label key, or `metadata.name` in `matchFields`. */
  readonly key: string;
  /** How the key's value is compared with `values`. */
  readonly operator: SelectorOperator;
  /** Values for In and NotIn; empty for Exists and DoesNotExist. @default [] */
  readonly values?: string[];
}

/** core/v1 NodeSelectorTerm: its requirements are ANDed. */
export interface NodeSelectorTermArgs {
  /** Requirements on node labels. @default [] */
  readonly matchExpressions?: NodeSelectorRequirementArgs[];
  /** Requirements on node fields (only `metadata.name`). @default [] */
  readonly matchFields?: NodeSelectorRequirementArgs[];
}

/** core/v1 NodeSelector: its terms are ORed. */
export interface NodeSelectorArgs {
  /** The terms; a node is selected when any term matches. */
  readonly nodeSelectorTerms: NodeSelectorTermArgs[];
}

/** The core's selector as flat props (same JSON). */
export function selectorArgs(s: CoreNodeSelector): NodeSelectorArgs {
  return JSON.parse(JSON.stringify(s)) as NodeSelectorArgs;
}

/** Flat props back to the core's selector (same JSON). */
export function coreSelector(s: NodeSelectorArgs): CoreNodeSelector {
  return JSON.parse(JSON.stringify(s)) as CoreNodeSelector;
}
