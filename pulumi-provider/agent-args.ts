/**
 * The bundled agent's knobs as Pulumi args. The core declares every option once (`AGENT_OPTIONS`); these
 * interfaces only restate the shape without literal unions or readonly arrays, which Pulumi's multi-language
 * schema cannot carry, and `agentManifestOptions()` maps them onto the core's `AgentManifestOptions` field by field.
 */
import type { AgentConfig, AgentManifestOptions, AgentResources, ImageRef } from '../core/index.js';

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

/** Agent options; each unset one keeps the agent's default, documented in the core's `AGENT_OPTIONS`. */
export interface AgentSettings {
  /** Seconds between ICMP probes of each gateway. @default 30 */
  readonly probeIntervalSeconds?: number;
  /** Seconds to wait for one probe reply. @default 1 */
  readonly probeTimeoutSeconds?: number;
  /** Failed probes that take a gateway out. @default 3 */
  readonly probeFallCount?: number;
  /** Answered probes that put a gateway back. @default 1 */
  readonly probeRiseCount?: number;
  /** Address probed through each gateway to check it forwards. @default "" (off) */
  readonly forwardProbeTarget?: string;
  /** Interface with the node's public address. @default "eth0" */
  readonly publicInterface?: string;
  /** Keep replies to traffic that came in on the public interface on it. @default true */
  readonly symmetricRouting?: boolean;
  /** Routing table of symmetric routing (DOKS: 135). @default 135 */
  readonly symmetricTable?: number;
  /** Priority of the symmetric-routing rule (DOKS: 15135). @default 15135 */
  readonly symmetricRulePriority?: number;
  /** Behaviour when every gateway of an override is down. @default OverrideFailMode.CLOSED */
  readonly overrideFailMode?: OverrideFailMode;
  /** API server addresses kept on the node's gateway during an override. @default [] (discovered) */
  readonly controlPlaneAddresses?: string[];
  /** Other addresses kept on the node's gateway during an override. @default ["169.254.169.254"] */
  readonly keepAddresses?: string[];
  /** Port of /healthz and /readyz (0 disables). @default 9181 */
  readonly healthPort?: number;
  /** Port of /metrics (0 disables). @default 9180 */
  readonly metricsPort?: number;
  /** Log verbosity. @default AgentLogLevel.INFO */
  readonly logLevel?: AgentLogLevel;
}

/** Where the agent image comes from. */
export interface AgentImageArgs {
  /** @default "ghcr.io" */
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
  /** @default "192Mi" */
  readonly memoryLimit?: string;
}

/** The knobs of the bundled agent's manifests. */
export interface AgentManifestArgs {
  /** Namespace of the agent. @default "kube-system" */
  readonly namespace?: string;
  /** Name of the DaemonSet, ServiceAccount and RBAC objects. @default "kroute-agent" */
  readonly name?: string;
  /** The agent image. @default ghcr.io/kroute/agent:<version> */
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
  /** Pod node selector (which nodes run the agent). @default every node */
  readonly podNodeSelector?: { [key: string]: string };
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Maps the Pulumi args onto the core's options, leaving unset fields unset so the core's defaults apply. */
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
  }) as AgentManifestOptions;
}
