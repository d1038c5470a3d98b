import { Chart, Testing } from 'cdk8s';
import { EgressScope, NodeSelector, Route, StaticEgress, ValidationError } from '../../constructs/index.js';

const chart = (namespace?: string) => new Chart(Testing.app(), 'test', namespace ? { namespace } : {});

describe('Route construct', () => {
  it('synthesizes a Route carrying the props, in canonical form', () => {
    const c = chart();
    new Route(c, 'r', { name: 'basic', destinations: ['1.2.3.4/5'], gateways: ['10.114.0.3', '10.114.0.4'], labels: { team: 'net' } });
    expect(Testing.synth(c)).toEqual([
      {
        apiVersion: 'networking.doks.digitalocean.com/v1alpha1',
        kind: 'Route',
        metadata: { name: 'basic', labels: { team: 'net' } },
        spec: { destinations: ['0.0.0.0/5'], gateways: ['10.114.0.3', '10.114.0.4'] },
      },
    ]);
  });

  it('names a Route from its construct path by default', () => {
    const c = chart();
    const r = new Route(c, 'Vpn', { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3'] });
    expect(r.name).toMatch(/^test-vpn-[a-z0-9]+$/);
    expect(Testing.synth(c)[0].metadata.name).toBe(r.name);
  });

  it('keeps the chart namespace off the cluster-scoped Route (cdk8s-core#731)', () => {
    const c = chart('apps');
    new Route(c, 'r', { name: 'x', destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3'] });
    expect(Testing.synth(c)[0].metadata.namespace).toBeUndefined();
  });

  it('writes node selectors from the helpers', () => {
    const c = chart();
    new Route(c, 'a', { name: 'a', destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3'], nodeSelector: NodeSelector.nodePool('worker-pool') });
    new Route(c, 'b', { name: 'b', destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3'], nodeSelector: NodeSelector.names('worker-pool-y') });
    const [a, b] = Testing.synth(c);
    expect(a.spec.nodeSelector).toEqual({
      nodeSelectorTerms: [{ matchExpressions: [{ key: 'doks.digitalocean.com/node-pool', operator: 'In', values: ['worker-pool'] }] }],
    });
    expect(b.spec.nodeSelector).toEqual({ nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['worker-pool-y'] }] }] });
  });

  it('throws at synth time naming the construct, the field and the value', () => {
    const make = () =>
      new Route(chart(), 'bad', { name: 'bad', destinations: ['10.0.0.0/8'], gateways: ['10.114.0.999'], nodeSelector: NodeSelector.nodePool() });
    expect(make).toThrow(ValidationError);
    expect(make).toThrow(
      'Route "test/bad" is invalid:\n' +
        '  - spec.gateways[0]: "10.114.0.999" is not an IPv4 or IPv6 address\n' +
        '  - spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: must have at least one value when the operator is In',
    );
  });
});

describe('StaticEgress construct', () => {
  it('overrides the default route on every node by default', () => {
    const c = chart();
    new StaticEgress(c, 'e', { name: 'egress', gateways: ['10.114.0.3'] });
    expect(Testing.synth(c)[0].spec).toEqual({ destinations: ['0.0.0.0/0'], gateways: ['10.114.0.3'] });
  });

  it('limits egress to a dedicated node pool, or keeps it off some pools', () => {
    const c = chart();
    new StaticEgress(c, 'e', { name: 'e', gateways: ['10.114.0.3'], scope: EgressScope.NODE_POOLS, nodePools: ['egress'] });
    new StaticEgress(c, 'f', { name: 'f', gateways: ['10.114.0.3'], scope: EgressScope.EXCEPT_NODE_POOLS, nodePools: ['ingress'] });
    const [e, f] = Testing.synth(c);
    expect(e.spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0]).toEqual({ key: 'doks.digitalocean.com/node-pool', operator: 'In', values: ['egress'] });
    expect(f.spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0]).toEqual({ key: 'doks.digitalocean.com/node-pool', operator: 'NotIn', values: ['ingress'] });
  });

  it('sends only selected destinations when asked', () => {
    const c = chart();
    new StaticEgress(c, 'e', { name: 'partner', gateways: ['10.114.0.3'], destinations: ['192.0.2.0/24'] });
    expect(Testing.synth(c)[0].spec.destinations).toEqual(['192.0.2.0/24']);
  });

  it('throws with the field when a scope lacks what it needs', () => {
    expect(() => new StaticEgress(chart(), 'e', { gateways: ['10.114.0.3'], scope: EgressScope.NODE_POOLS })).toThrow(
      'StaticEgress "test/e" is invalid:\n  - props.nodePools: must name at least one node pool for scope NodePools',
    );
    expect(() => new StaticEgress(chart(), 'e', { gateways: [] })).toThrow('spec.gateways: must not be empty: give at least one gateway IP address');
  });
});
