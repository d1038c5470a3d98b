/** Ready-made node selectors; the cdk8s and Pulumi faces expose these as `NodeSelector.nodePool(...)` etc. */
import type { NodeSelector, NodeSelectorRequirement } from './route.js';
import { NODE_NAME_FIELD } from './validate.js';

/** The label DOKS puts on every node with its node pool's name. */
export const DOKS_NODE_POOL_LABEL = 'doks.digitalocean.com/node-pool';

/** Nodes of any of these DOKS node pools. */
export function nodePoolSelector(...pools: string[]): NodeSelector {
  return { nodeSelectorTerms: [{ matchExpressions: [{ key: DOKS_NODE_POOL_LABEL, operator: 'In', values: pools }] }] };
}

/** Nodes outside these DOKS node pools (e.g. keep ingress nodes off a default-route override). */
export function notNodePoolSelector(...pools: string[]): NodeSelector {
  return { nodeSelectorTerms: [{ matchExpressions: [{ key: DOKS_NODE_POOL_LABEL, operator: 'NotIn', values: pools }] }] };
}

/** Nodes with these names (matchFields on metadata.name). */
export function nodeNamesSelector(...names: string[]): NodeSelector {
  return { nodeSelectorTerms: [{ matchFields: [{ key: NODE_NAME_FIELD, operator: 'In', values: names }] }] };
}

/** Nodes whose labels satisfy every requirement given. */
export function requirementsSelector(...requirements: NodeSelectorRequirement[]): NodeSelector {
  return { nodeSelectorTerms: [{ matchExpressions: requirements }] };
}

/** Nodes carrying every one of these labels with these values. */
export function labelsSelector(labels: Readonly<Record<string, string>>): NodeSelector {
  return requirementsSelector(...Object.entries(labels).map(([key, v]) => ({ key, operator: 'In' as const, values: [v] })));
}
