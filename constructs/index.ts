/** kroute's cdk8s constructs: Route, RoutingAgent, StaticEgress, NodeSelector. */
export * from './node-selector.js';
export * from './route.js';
export * from './routing-agent.js';
export * from './static-egress.js';
export { ValidationError, type FieldError } from '../core/index.js';
export {
  AgentLogLevel,
  ImagePullPolicy,
  OverrideFailMode,
  SelectorOperator,
  TolerationOperator,
  StatusReportsMode,
  type AgentImageArgs,
  type AgentTolerationArgs,
  type AgentManifestArgs,
  type AgentResourcesArgs,
  type AgentSettings,
  type NodeSelectorArgs,
  type NodeSelectorRequirementArgs,
  type NodeSelectorTermArgs,
} from '../core/face-props.js';
