import { nodeNamesSelector, nodePoolSelector, selectNode, validateRoute, type NodeSelector } from '../../core/index.js';
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
});
