/**
 * Node selection, with the reason: core/v1 NodeSelector semantics (terms ORed, requirements ANDed). The agent
 * and the tests use this one function; its reason goes into logs and status, as metallb's ShouldAnnounce does.
 */
import type { NodeSelector, NodeSelectorRequirement } from './route.js';
import { NODE_NAME_FIELD } from './validate.js';

/** The facts about a node that selection looks at. */
export interface NodeFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** Whether a node is selected, and why. */
export interface Selection {
  readonly selected: boolean;
  readonly reason: string;
}

function requirementHolds(r: NodeSelectorRequirement, value: string | undefined): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && values.includes(value);
    case 'NotIn':
      // core/v1: NotIn matches when the label is absent, too.
      return value === undefined || !values.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    default:
      return false;
  }
}

function describe(r: NodeSelectorRequirement): string {
  return r.values && r.values.length ? `${r.key} ${r.operator} [${r.values.join(', ')}]` : `${r.key} ${r.operator}`;
}

/** Decides whether `selector` picks `node`. No selector picks every node. */
export function selectNode(selector: NodeSelector | undefined, node: NodeFacts): Selection {
  if (!selector) return { selected: true, reason: 'no nodeSelector: the route applies to every node' };
  const misses: string[] = [];
  for (const [i, term] of selector.nodeSelectorTerms.entries()) {
    const exprs = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (exprs.length + fields.length === 0) {
      misses.push(`term ${i} is empty`);
      continue;
    }
    const failed =
      exprs.find((r) => !requirementHolds(r, Object.hasOwn(node.labels, r.key) ? node.labels[r.key] : undefined)) ??
      fields.find((r) => !requirementHolds(r, r.key === NODE_NAME_FIELD ? node.name : undefined));
    if (!failed) return { selected: true, reason: `nodeSelectorTerms[${i}] matches` };
    misses.push(`term ${i}: ${describe(failed)} does not hold`);
  }
  return { selected: false, reason: `no nodeSelector term matches (${misses.join('; ')})` };
}
