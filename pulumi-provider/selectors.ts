/**
 * Node selectors as Pulumi args. The core's types use literal unions and readonly arrays, which Pulumi's
 * multi-language schema cannot express; the flat mirrors (a string enum, plain arrays) live in core/face-props.ts,
 * shared with the cdk8s face, and the `NodeSelectors` factories build them from the core's own selector helpers.
 */
import { labelsSelector, nodeNamesSelector, nodePoolSelector, notNodePoolSelector } from '../core/index.js';
import { selectorArgs, type NodeSelectorArgs } from '../core/face-props.js';

export {
  coreSelector,
  SelectorOperator,
  selectorArgs,
  type NodeSelectorArgs,
  type NodeSelectorRequirementArgs,
  type NodeSelectorTermArgs,
} from '../core/face-props.js';

/** Ready-made node selectors, the same as the cdk8s face's `NodeSelector` factories. */
export class NodeSelectors {
  /** Nodes of any of these DOKS node pools (label `doks.digitalocean.com/node-pool`). */
  static nodePool(...pools: string[]): NodeSelectorArgs {
    return selectorArgs(nodePoolSelector(...pools));
  }
  /** Nodes outside these DOKS node pools. */
  static exceptNodePool(...pools: string[]): NodeSelectorArgs {
    return selectorArgs(notNodePoolSelector(...pools));
  }
  /** Nodes with these names. */
  static names(...names: string[]): NodeSelectorArgs {
    return selectorArgs(nodeNamesSelector(...names));
  }
  /** Nodes carrying all these labels with these values. */
  static labels(labels: Record<string, string>): NodeSelectorArgs {
    return selectorArgs(labelsSelector(labels));
  }
}
