/**
 * Node selectors as Pulumi args. The core's types use literal unions and readonly arrays, which Pulumi's
 * multi-language schema cannot express; these mirror them with a string enum and plain arrays, and the
 * `NodeSelectors` factories build them from the core's own selector helpers.
 */
import {
  labelsSelector,
  nodeNamesSelector,
  nodePoolSelector,
  notNodePoolSelector,
  type NodeSelector as CoreNodeSelector,
} from '../core/index.js';

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

/** The core's selector as Pulumi args (same JSON). */
export function selectorArgs(s: CoreNodeSelector): NodeSelectorArgs {
  return JSON.parse(JSON.stringify(s)) as NodeSelectorArgs;
}

/** Pulumi args back to the core's selector (same JSON). */
export function coreSelector(s: NodeSelectorArgs): CoreNodeSelector {
  return JSON.parse(JSON.stringify(s)) as CoreNodeSelector;
}

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
