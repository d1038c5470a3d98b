/** Node selectors for cdk8s props: static factories over the core's selector helpers. */
import {
  labelsSelector,
  nodeNamesSelector,
  nodePoolSelector,
  notNodePoolSelector,
  requirementsSelector,
  type NodeSelectorRequirement,
} from '../core/index.js';
import { coreSelector, selectorArgs, type NodeSelectorArgs, type NodeSelectorRequirementArgs } from '../core/face-props.js';

/** Which nodes a Route applies to (core/v1 NodeSelector). */
export class NodeSelector {
  /** Nodes of any of these DOKS node pools (label `doks.digitalocean.com/node-pool`). */
  static nodePool(...pools: string[]): NodeSelector {
    return new NodeSelector(selectorArgs(nodePoolSelector(...pools)));
  }
  /** Nodes outside these DOKS node pools. */
  static exceptNodePool(...pools: string[]): NodeSelector {
    return new NodeSelector(selectorArgs(notNodePoolSelector(...pools)));
  }
  /** Nodes with these names (matchFields on metadata.name). */
  static names(...names: string[]): NodeSelector {
    return new NodeSelector(selectorArgs(nodeNamesSelector(...names)));
  }
  /** Nodes carrying all these labels with these values. */
  static labels(labels: Record<string, string>): NodeSelector {
    return new NodeSelector(selectorArgs(labelsSelector(labels)));
  }
  /** Nodes matching all these requirements (In, NotIn, Exists, DoesNotExist). */
  static requirements(...requirements: NodeSelectorRequirementArgs[]): NodeSelector {
    return new NodeSelector(selectorArgs(requirementsSelector(...(requirements as NodeSelectorRequirement[]))));
  }
  /** A raw core/v1 NodeSelector, as written in YAML. */
  static fromSpec(spec: NodeSelectorArgs): NodeSelector {
    return new NodeSelector(selectorArgs(coreSelector(spec)));
  }

  private constructor(
    /** The selector as it appears in `spec.nodeSelector`. */
    readonly spec: NodeSelectorArgs,
  ) {}
}
