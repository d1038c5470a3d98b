/**
 * Admission by a real kube-apiserver (built from the Go module proxy by test/cluster): the Route CRD from the core
 * installs and becomes Established, each of DigitalOcean's six Route examples is accepted, and bad Routes are
 * rejected with a message naming the field. Needs Go and root; skipped locally without them, fails in CI.
 */
import { formatFieldError, routeObject, validateRoute } from '../../core/index.js';
import { doksExamples } from '../fixtures/doks-examples.js';
import { type ApiServerLab, describeWithApiServer, dryRunApply, ROUTE_CRD_NAME, useApiServerLab } from './harness.js';

const d = describeWithApiServer;

d('Route admission by a real API server (needs Go and root)', () => {
  const lab = useApiServerLab({ crd: true });
  const cp = (): ApiServerLab['cp'] => lab.cp;

  it('installs the CRD from the core and reports it Established', async () => {
    const r = await cp().kubectl(['get', `crd/${ROUTE_CRD_NAME}`, '-o', 'json']);
    expect(r.code).toBe(0);
    const crd = JSON.parse(r.stdout) as { status: { conditions: { type: string; status: string }[] }; spec: { scope: string } };
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.status.conditions).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'NamesAccepted', status: 'True' }),
      expect.objectContaining({ type: 'Established', status: 'True' }),
    ]));
  });

  it('serves exactly six DigitalOcean examples to test', () => {
    expect(doksExamples()).toHaveLength(6);
  });

  it.each(doksExamples().map((e) => [e.file, e.object] as const))("accepts DigitalOcean's example %s", async (_file, obj) => {
    const r = await dryRunApply(cp(), [obj]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('stores a Route for real and reads it back', async () => {
    const route = routeObject('stored', { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3', '10.114.0.4'] });
    await cp().apply([route]);
    const r = await cp().kubectl(['get', 'routes.networking.doks.digitalocean.com/stored', '-o', 'jsonpath={.spec.gateways}']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(['10.114.0.3', '10.114.0.4']);
  });

  const ok = { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'] };
  const sel = (req: object): object => ({ ...ok, nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [req] }] } });
  const expr = 'spec\\.nodeSelector\\.nodeSelectorTerms\\[0\\]\\.matchExpressions\\[0\\]';
  // [what is wrong, spec, what the API server's message must say: the field path first, then the complaint].
  // Duplicates in a list-type set and unknown fields are caught by server-side apply's typed patch before
  // validation, so those messages name the list (`.spec.gateways`) rather than the item.
  const bad: [string, object, RegExp][] = [
    ['a bad CIDR', { ...ok, destinations: ['999.0.0.0/8'] }, /spec\.destinations\[0\]: Invalid value: .*must be a CIDR/],
    ['a CIDR without a prefix length', { ...ok, destinations: ['10.0.0.0'] }, /spec\.destinations\[0\]: Invalid value/],
    ['a bad IP', { ...ok, gateways: ['10.114.0.999'] }, /spec\.gateways\[0\]: Invalid value: .*must be an IPv4 or IPv6 address/],
    ['a gateway with a prefix length', { ...ok, gateways: ['10.114.0.3/32'] }, /spec\.gateways\[0\]: Invalid value/],
    ['a loopback gateway', { ...ok, gateways: ['127.0.0.1'] }, /spec\.gateways\[0\]: Invalid value: .*cannot be a gateway/],
    ['empty destinations', { ...ok, destinations: [] }, /spec\.destinations: Invalid value: 0: spec\.destinations in body should have at least 1 items/],
    ['empty gateways', { ...ok, gateways: [] }, /spec\.gateways: Invalid value: 0: spec\.gateways in body should have at least 1 items/],
    ['no gateways', { destinations: ['10.0.0.0/8'] }, /spec\.gateways: Required value/],
    ['a duplicate gateway', { ...ok, gateways: ['10.0.0.1', '10.0.0.1'] }, /\.spec\.gateways: duplicate entries for key \[="10\.0\.0\.1"\]/],
    ['a duplicate destination', { ...ok, destinations: ['10.0.0.0/8', '10.0.0.0/8'] }, /\.spec\.destinations: duplicate entries for key \[="10\.0\.0\.0\/8"\]/],
    ['the same prefix twice after masking', { ...ok, destinations: ['1.2.3.4/5', '0.0.0.0/5'] }, /spec\.destinations: Invalid value: .*must not list the same prefix twice/],
    ['a gateway of the other family', { ...ok, gateways: ['fd00::1'] }, /spec\.destinations: Invalid value: .*same address family as the gateways/],
    ['mixed gateway families', { ...ok, gateways: ['10.0.0.1', 'fd00::1'] }, /spec\.gateways: Invalid value: .*all gateways must be of one address family/],
    ['a bad selector operator', sel({ key: 'a', operator: 'Equals', values: ['b'] }), new RegExp(`${expr}\\.operator: Unsupported value: "Equals"`)],
    ['In without values', sel({ key: 'a', operator: 'In' }), new RegExp(`${expr}\\.values: Invalid value: .*values must have at least one value`)],
    ['Exists with values', sel({ key: 'a', operator: 'Exists', values: ['b'] }), new RegExp(`${expr}\\.values: Invalid value: .*values must be empty`)],
    ['matchFields on a field other than metadata.name', { ...ok, nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.uid', operator: 'In', values: ['x'] }] }] } },
      /spec\.nodeSelector\.nodeSelectorTerms\[0\]\.matchFields\[0\]\.key: Unsupported value: "metadata\.uid"/],
    ['an empty selector term', { ...ok, nodeSelector: { nodeSelectorTerms: [{}] } },
      /spec\.nodeSelector\.nodeSelectorTerms\[0\]: Invalid value: .*needs at least one of matchExpressions or matchFields/],
    ['an unknown field', { ...ok, gateway: '10.0.0.1' }, /\.spec\.gateway: field not declared in schema/],
    // Destinations no node could ever honour (docs/safety.md): the item is named.
    ['a loopback destination', { ...ok, destinations: ['10.0.0.0/8', '127.0.0.0/8'] }, /spec\.destinations\[1\]: Invalid value: .*cannot be routed through a gateway on any node: it is loopback/],
    ['a multicast destination', { ...ok, destinations: ['224.0.0.0/4'] }, /spec\.destinations\[0\]: Invalid value: .*it is multicast/],
    ['a link-local destination', { ...ok, destinations: ['169.254.0.0/24'] }, /spec\.destinations\[0\]: Invalid value: .*it is link-local/],
    ['the limited broadcast address', { ...ok, destinations: ['255.255.255.255/32'] }, /spec\.destinations\[0\]: Invalid value: .*limited broadcast/],
    ['an IPv6 loopback destination', { destinations: ['::1/128'], gateways: ['fd00::1'] }, /spec\.destinations\[0\]: Invalid value: .*it is loopback/],
    ['an IPv6 multicast destination', { destinations: ['ff02::/16'], gateways: ['fd00::1'] }, /spec\.destinations\[0\]: Invalid value: .*it is multicast/],
    ['an IPv6 link-local destination', { destinations: ['fe80::/64'], gateways: ['fd00::1'] }, /spec\.destinations\[0\]: Invalid value: .*it is link-local/],
    ['a multicast gateway', { ...ok, gateways: ['224.0.0.1'] }, /spec\.gateways\[0\]: Invalid value: .*multicast or broadcast/],
  ];

  // Accepted at admission: whether they may be applied depends on the node (the planner decides, docs/safety.md).
  const nodeDependent: [string, object][] = [
    ['the metadata service /32', { ...ok, destinations: ['169.254.169.254/32'] }],
    ['the /1 pair (an override)', { ...ok, destinations: ['0.0.0.0/1', '128.0.0.0/1'] }],
    ['a prefix that merely contains multicast', { ...ok, destinations: ['128.0.0.0/1'] }],
    ['DigitalOcean\'s 1.2.3.4/5 (contains 0.0.0.0/8)', { ...ok, destinations: ['1.2.3.4/5'] }],
    ['an IPv6 override', { destinations: ['::/0'], gateways: ['fd00::1'] }],
  ];
  it.each(nodeDependent)('accepts %s (the node decides)', async (_what, spec) => {
    const r = await dryRunApply(cp(), [routeObject('nodedep', spec as never)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(validateRoute(routeObject('nodedep', spec as never)).ok).toBe(true);
  });

  it.each(bad)('rejects %s, naming the field; the core validator rejects it too', async (_what, spec, message) => {
    const obj = routeObject('bad', spec as never);
    const r = await dryRunApply(cp(), [obj]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    const core = validateRoute(obj);
    expect(core.ok ? 'accepted by the core validator' : core.errors.map(formatFieldError).join('\n')).not.toBe('accepted by the core validator');
  });
});
