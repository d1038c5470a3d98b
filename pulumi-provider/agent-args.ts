/**
 * The bundled agent's knobs as Pulumi args: the same flat props as the cdk8s `RoutingAgentProps`, declared once in
 * the core (`core/face-props.ts`, held to the core's `AGENT_OPTIONS` by test/packaging/props.test.ts) without
 * literal unions or readonly arrays, which Pulumi's multi-language schema cannot carry.
 */
export {
  AgentLogLevel,
  agentManifestOptions,
  ImagePullPolicy,
  OverrideFailMode,
  resolveAgentManifestArgs,
  TolerationOperator,
  StatusReportsMode,
  type AgentTolerationArgs,
  type AgentImageArgs,
  type AgentManifestArgs,
  type AgentResourcesArgs,
  type AgentSettings,
} from '../core/face-props.js';
