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

/** One term that did not match a node: the first requirement in it that failed, and the node's value for its key. */
export interface SelectorMiss {
  /** Index in `nodeSelectorTerms`. */
  readonly term: number;
  /** Path of the failed requirement (`nodeSelectorTerms[0].matchExpressions[1]`); the term's path when it is empty. */
  readonly field: string;
  /** The requirement that failed; absent when the term is empty. */
  readonly requirement?: NodeSelectorRequirement;
  /** The node's value for the requirement's key (a label, or `metadata.name`); absent when it has none. */
  readonly nodeValue?: string;
  /** The same in words: `doks.digitalocean.com/node-pool In [worker-pool] does not hold`. */
  readonly text: string;
}

/** A selection with the detail of every term that failed (what `kroute explain` prints). */
export interface SelectionDetail extends Selection {
  /** The term that matched, when selected by a selector. */
  readonly matchedTerm?: number;
  /** One entry per term when not selected; empty when selected. */
  readonly misses: readonly SelectorMiss[];
}

/** Decides whether `selector` picks `node`, naming the term that matched or, for each term, the requirement that failed. */
export function explainSelection(selector: NodeSelector | undefined, node: NodeFacts): SelectionDetail {
  if (!selector) return { selected: true, reason: 'no nodeSelector: the route applies to every node', misses: [] };
  const misses: SelectorMiss[] = [];
  for (const [i, term] of selector.nodeSelectorTerms.entries()) {
    const exprs = term.matchExpressions ?? [];
    const fields = term.matchFields ?? [];
    if (exprs.length + fields.length === 0) {
      misses.push({ term: i, field: `nodeSelectorTerms[${i}]`, text: `term ${i} is empty` });
      continue;
    }
    const label = (key: string) => (Object.hasOwn(node.labels, key) ? node.labels[key] : undefined);
    const field = (key: string) => (key === NODE_NAME_FIELD ? node.name : undefined);
    const e = exprs.findIndex((r) => !requirementHolds(r, label(r.key)));
    const f = e >= 0 ? -1 : fields.findIndex((r) => !requirementHolds(r, field(r.key)));
    if (e < 0 && f < 0) return { selected: true, reason: `nodeSelectorTerms[${i}] matches`, matchedTerm: i, misses: [] };
    const requirement = e >= 0 ? exprs[e] : fields[f];
    const nodeValue = e >= 0 ? label(requirement.key) : field(requirement.key);
    misses.push({
      term: i,
      field: e >= 0 ? `nodeSelectorTerms[${i}].matchExpressions[${e}]` : `nodeSelectorTerms[${i}].matchFields[${f}]`,
      requirement,
      ...(nodeValue !== undefined ? { nodeValue } : {}),
      text: `${describe(requirement)} does not hold`,
    });
  }
  const words = misses.map((m) => (m.requirement ? `term ${m.term}: ${m.text}` : m.text));
  return { selected: false, reason: `no nodeSelector term matches (${words.join('; ')})`, misses };
}

/** Decides whether `selector` picks `node`. No selector picks every node. */
export function selectNode(selector: NodeSelector | undefined, node: NodeFacts): Selection {
  const d = explainSelection(selector, node);
  return { selected: d.selected, reason: d.reason };
}
