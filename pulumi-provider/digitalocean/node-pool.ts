/** DOKS node-pool args shared by the cluster helper and the per-workload egress pool. */
import type * as digitalocean from '@pulumi/digitalocean';

/** Effect of a node taint. */
export enum TaintEffect {
  NO_SCHEDULE = 'NoSchedule',
  PREFER_NO_SCHEDULE = 'PreferNoSchedule',
  NO_EXECUTE = 'NoExecute',
}

/** A node taint. */
export interface TaintArgs {
  /** Taint key. */
  readonly key: string;
  /** Taint value. */
  readonly value: string;
  /** What the taint does to pods that do not tolerate it. */
  readonly effect: TaintEffect;
}

/** A DOKS node pool. */
export interface DoksNodePoolArgs {
  /** Pool name; DOKS labels its nodes `doks.digitalocean.com/node-pool=<name>`. */
  readonly name: string;
  /** Droplet size slug, e.g. "s-2vcpu-4gb". */
  readonly size: string;
  /** Number of nodes (without autoscaling). @default 1 */
  readonly nodeCount?: number;
  /** Autoscale between minNodes and maxNodes. @default false */
  readonly autoScale?: boolean;
  /** @default none */
  readonly minNodes?: number;
  /** @default none */
  readonly maxNodes?: number;
  /** Node labels. @default {} */
  readonly labels?: { [key: string]: string };
  /** Node taints. @default [] */
  readonly taints?: TaintArgs[];
}

/** The pool as `KubernetesCluster.nodePool` wants it. */
export function nodePoolInput(p: DoksNodePoolArgs): digitalocean.types.input.KubernetesClusterNodePool {
  return {
    name: p.name,
    size: p.size,
    ...(p.autoScale ? { autoScale: true, minNodes: p.minNodes, maxNodes: p.maxNodes } : { nodeCount: p.nodeCount ?? 1 }),
    ...(p.labels ? { labels: p.labels } : {}),
    ...(p.taints ? { taints: p.taints.map((t) => ({ key: t.key, value: t.value, effect: t.effect })) } : {}),
  };
}
