import { explainSelection, nodeNamesSelector, nodePoolSelector, selectNode, validateRoute, type NodeSelector } from '../../core/index.js';
import { doksExamples } from '../fixtures/doks-examples.js';

const worker = { name: 'worker-pool-y', labels: { 'doks.digitalocean.com/node-pool': 'worker-pool', zone: 'a' } };
const other = { name: 'other-pool-x', labels: { 'doks.digitalocean.com/node-pool': 'other-pool' } };
const sel = (...matchExpressions: NonNullable<NodeSelector['nodeSelectorTerms'][number]['matchExpressions']>): NodeSelector => ({
  nodeSelectorTerms: [{ matchExpressions }],
});

describe('node selection', () => {
  it('selects every node when a Route has no nodeSelector, and says so', () => {
    expect(selectNode(undefined, worker)).toEqual({ selected: true, reason: 'no nodeSelector: the route applies to every node' });
  });

  it.each([
    ['In', sel({ key: 'doks.digitalocean.com/node-pool', operator: 'In', values: ['worker-pool'] }), true, false],
    ['NotIn', sel({ key: 'doks.digitalocean.com/node-pool', operator: 'NotIn', values: ['worker-pool'] }), false, true],
    ['NotIn on a missing label', sel({ key: 'gpu', operator: 'NotIn', values: ['yes'] }), true, true],
    ['Exists', sel({ key: 'zone', operator: 'Exists' }), true, false],
    ['DoesNotExist', sel({ key: 'zone', operator: 'DoesNotExist' }), false, true],
    ['requirements are ANDed', sel({ key: 'zone', operator: 'Exists' }, { key: 'doks.digitalocean.com/node-pool', operator: 'In', values: ['other-pool'] }), false, false],
    ['terms are ORed', { nodeSelectorTerms: [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['other-pool-x'] }] }] }, true, true],
    ['matchFields on metadata.name', nodeNamesSelector('worker-pool-y'), true, false],
    ['matchFields NotIn', { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['worker-pool-y'] }] }] }, false, true],
    ['node-pool helper', nodePoolSelector('other-pool'), false, true],
  ] as [string, NodeSelector, boolean, boolean][])('%s', (_name, selector, forWorker, forOther) => {
    expect(selectNode(selector, worker).selected).toBe(forWorker);
    expect(selectNode(selector, other).selected).toBe(forOther);
  });

  it('gives the reason a node is not selected', () => {
    const s = selectNode(nodePoolSelector('worker-pool'), other);
    expect(s).toEqual({
      selected: false,
      reason: 'no nodeSelector term matches (term 0: doks.digitalocean.com/node-pool In [worker-pool] does not hold)',
    });
    expect(selectNode(nodePoolSelector('worker-pool'), worker).reason).toBe('nodeSelectorTerms[0] matches');
  });

  it("applies DigitalOcean's node-pool and node-name examples to the right nodes", () => {
    const byFile = new Map(doksExamples().map((e) => [e.file, e.object]));
    for (const [file, pick] of [['4-node-pool.yaml', [true, false]], ['5-node-name.yaml', [true, false]], ['1-basic.yaml', [true, true]]] as const) {
      const r = validateRoute(byFile.get(file));
      if (!r.ok) throw new Error(file);
      expect([selectNode(r.value.nodeSelector, worker).selected, selectNode(r.value.nodeSelector, other).selected]).toEqual(pick);
    }
  });

  it('does not treat inherited object properties as labels', () => {
    expect(selectNode(sel({ key: 'constructor', operator: 'Exists' }), { name: 'n', labels: {} }).selected).toBe(false);
  });

  it('explainSelection names, for each term, the requirement that failed, its path and the node value', () => {
    const selector: NodeSelector = {
      nodeSelectorTerms: [
        { matchExpressions: [{ key: 'zone', operator: 'Exists' }, { key: 'doks.digitalocean.com/node-pool', operator: 'In', values: ['gpu'] }] },
        { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n9'] }] },
        {},
      ],
    };
    const d = explainSelection(selector, worker);
    expect(d.selected).toBe(false);
    expect(d.misses).toEqual([
      { term: 0, field: 'nodeSelectorTerms[0].matchExpressions[1]', requirement: { key: 'doks.digitalocean.com/node-pool', operator: 'In', values: ['gpu'] }, nodeValue: 'worker-pool', text: 'doks.digitalocean.com/node-pool In [gpu] does not hold' },
      { term: 1, field: 'nodeSelectorTerms[1].matchFields[0]', requirement: { key: 'metadata.name', operator: 'In', values: ['n9'] }, nodeValue: 'worker-pool-y', text: 'metadata.name In [n9] does not hold' },
      { term: 2, field: 'nodeSelectorTerms[2]', text: 'term 2 is empty' },
    ]);
    // The same words as selectNode's reason, which status and logs carry.
    expect(d.reason).toBe(selectNode(selector, worker).reason);
    expect(explainSelection(selector, { name: 'n9', labels: {} })).toEqual({ selected: true, reason: 'nodeSelectorTerms[1] matches', matchedTerm: 1, misses: [] });
    expect(explainSelection({ nodeSelectorTerms: [{ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }] }, other).misses[0]).not.toHaveProperty('nodeValue');
  });
});
