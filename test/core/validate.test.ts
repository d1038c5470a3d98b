import fc from 'fast-check';
import { formatFieldError, parseCidr, validateRoute, validateRouteSpec, canonicalSpec, type FieldError } from '../../core/index.js';
import { doksExamples } from '../fixtures/doks-examples.js';

const route = (spec: unknown, name = 'r') => ({ apiVersion: 'networking.doks.digitalocean.com/v1alpha1', kind: 'Route', metadata: { name }, spec });
const messages = (errs: readonly FieldError[]) => errs.map(formatFieldError);

describe('Route validation', () => {
  it.each(doksExamples().map((e) => [e.file, e.object]))('accepts DigitalOcean example %s', (_file, obj) => {
    const r = validateRoute(obj);
    expect(r.ok ? [] : messages(r.errors)).toEqual([]);
  });

  it('accepts 1.2.3.4/5 and normalises it to 0.0.0.0/5, as DigitalOcean documents', () => {
    const r = validateRouteSpec({ destinations: ['1.2.3.4/5'], gateways: ['10.114.0.3'] });
    if (!r.ok) throw new Error(messages(r.errors).join('\n'));
    expect(r.value.destinations.map((d) => d.text)).toEqual(['0.0.0.0/5']);
    expect(r.value.destinations[0].hadHostBits).toBe(true);
    expect(canonicalSpec(r.value)).toEqual({ destinations: ['0.0.0.0/5'], gateways: ['10.114.0.3'] });
  });

  it('accepts IPv6 and writes it in RFC 5952 form', () => {
    const r = validateRouteSpec({ destinations: ['2001:DB8:0:0::1/32', '::/0'], gateways: ['fd00:0::3', 'fd00::4'] });
    if (!r.ok) throw new Error(messages(r.errors).join('\n'));
    expect(canonicalSpec(r.value).destinations).toEqual(['2001:db8::/32', '::/0']);
    expect(canonicalSpec(r.value).gateways).toEqual(['fd00::3', 'fd00::4']);
    expect(r.value.family).toBe(6);
    expect(r.value.overridesDefault).toBe(true);
  });

  it('marks a default-route override', () => {
    const r = validateRouteSpec({ destinations: ['0.0.0.0/0'], gateways: ['10.114.0.3'] });
    expect(r.ok && r.value.overridesDefault).toBe(true);
    const s = validateRouteSpec({ destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3'] });
    expect(s.ok && s.value.overridesDefault).toBe(false);
  });

  const bad: [string, unknown, string[]][] = [
    ['no spec', undefined, ['spec: is required: an object with destinations and gateways']],
    ['missing destinations', { gateways: ['10.0.0.1'] }, ['spec.destinations: is required: give at least one destination CIDR']],
    ['empty destinations', { destinations: [], gateways: ['10.0.0.1'] }, ['spec.destinations: must not be empty: give at least one destination CIDR']],
    ['empty gateways', { destinations: ['10.0.0.0/8'], gateways: [] }, ['spec.gateways: must not be empty: give at least one gateway IP address']],
    ['bad gateway', { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3', '10.114.0.999'] }, ['spec.gateways[1]: "10.114.0.999" is not an IPv4 or IPv6 address']],
    ['gateway with a prefix', { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3/32'] }, ['spec.gateways[0]: "10.114.0.3/32" is not an IPv4 or IPv6 address']],
    ['leading zeros', { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.03'] }, ['spec.gateways[0]: "10.114.0.03" is not an IPv4 or IPv6 address']],
    ['octet out of range', { destinations: ['999.0.0.0/8'], gateways: ['10.0.0.1'] }, ['spec.destinations[0]: "999.0.0.0/8" is not a CIDR: the address part is not an IPv4 or IPv6 address']],
    ['no prefix length', { destinations: ['10.0.0.0'], gateways: ['10.0.0.1'] }, ['spec.destinations[0]: "10.0.0.0" is not a CIDR: it needs a prefix length, e.g. "10.0.0.0/8"']],
    ['prefix too long', { destinations: ['10.0.0.0/33'], gateways: ['10.0.0.1'] }, ['spec.destinations[0]: "10.0.0.0/33" is not a CIDR: the prefix length must be 0 to 32']],
    ['duplicate destination after normalisation', { destinations: ['1.2.3.4/5', '0.0.0.0/5'], gateways: ['10.0.0.1'] }, ['spec.destinations[1]: "0.0.0.0/5" is the same prefix as destinations[0] (0.0.0.0/5)']],
    ['duplicate gateway', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1', '10.0.0.1'] }, ['spec.gateways[1]: "10.0.0.1" is the same address as gateways[0]']],
    ['gateway of the other family', { destinations: ['10.0.0.0/8'], gateways: ['fd00::1'] }, ['spec.destinations[0]: "10.0.0.0/8" is IPv4 but the gateways are IPv6; use one address family per Route']],
    ['mixed gateways', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1', 'fd00::1'] }, [
      'spec.gateways[1]: "fd00::1" is IPv6 but gateways[0] is IPv4; use one address family per Route',
    ]],
    ['unspecified gateway', { destinations: ['10.0.0.0/8'], gateways: ['0.0.0.0'] }, ['spec.gateways[0]: "0.0.0.0" cannot be a gateway: it is an unspecified or loopback address']],
    ['IPv4-mapped IPv6', { destinations: ['10.0.0.0/8'], gateways: ['::ffff:10.0.0.1'] }, ['spec.gateways[0]: "::ffff:10.0.0.1" is an IPv4-mapped IPv6 address; write the IPv4 address instead']],
    ['zone', { destinations: ['::/0'], gateways: ['fe80::1%eth1'] }, ['spec.gateways[0]: "fe80::1%eth1" is not an IPv4 or IPv6 address (zones are not allowed)']],
    ['unknown field', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'], gateway: '10.0.0.2' }, ['spec.gateway: is not a known field; known fields are destinations, gateways, nodeSelector']],
    ['unknown operator', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'], nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['b'] }] }] } }, [
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].operator: "Equals" is not a supported operator: use one of In, NotIn, Exists, DoesNotExist',
    ]],
    ['In without values', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'], nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'In' }] }] } }, [
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: must have at least one value when the operator is In',
    ]],
    ['Exists with values', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'], nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['b'] }] }] } }, [
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].values: ["b"] must be empty when the operator is Exists',
    ]],
    ['matchFields on another field', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'], nodeSelector: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.uid', operator: 'In', values: ['x'] }] }] } }, [
      'spec.nodeSelector.nodeSelectorTerms[0].matchFields[0].key: "metadata.uid" is not supported in matchFields; the only field key is "metadata.name"',
    ]],
    ['empty term', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'], nodeSelector: { nodeSelectorTerms: [{}] } }, [
      'spec.nodeSelector.nodeSelectorTerms[0]: needs at least one of matchExpressions or matchFields (an empty term matches no node)',
    ]],
    ['no terms', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'], nodeSelector: { nodeSelectorTerms: [] } }, [
      'spec.nodeSelector.nodeSelectorTerms: must have at least one term (terms are ORed)',
    ]],
    ['bad label key', { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'], nodeSelector: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'bad key!', operator: 'Exists' }] }] } }, [
      'spec.nodeSelector.nodeSelectorTerms[0].matchExpressions[0].key: "bad key!" is not a valid label key: the name part must be 1 to 63 characters of [A-Za-z0-9-_.], starting and ending alphanumeric',
    ]],
  ];

  it.each(bad)('rejects %s with a message naming the field and value', (_name, spec, expected) => {
    const r = validateRouteSpec(spec);
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : messages(r.errors)).toEqual(expected);
  });

  it('collects every error of one object, not just the first', () => {
    const r = validateRouteSpec({ destinations: ['nope', '10.0.0.0/8'], gateways: ['also-nope', '10.0.0.1', '10.0.0.1'] });
    expect(r.ok ? [] : r.errors.map((e) => [e.field, e.code])).toEqual([
      ['spec.destinations[0]', 'Invalid'],
      ['spec.gateways[0]', 'Invalid'],
      ['spec.gateways[2]', 'Duplicate'],
    ]);
  });

  it('checks the object around the spec', () => {
    const r = validateRoute({ apiVersion: 'v1', kind: 'Rout', metadata: { name: 'Not_Valid' }, spec: { destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'] } });
    expect(r.ok ? [] : messages(r.errors)).toEqual([
      'apiVersion: "v1" must be "networking.doks.digitalocean.com/v1alpha1"',
      'kind: "Rout" must be "Route"',
      'metadata.name: "Not_Valid" is not a valid object name: lower-case letters, digits, "-" and "."',
    ]);
    expect(validateRoute(route({ destinations: ['10.0.0.0/8'], gateways: ['10.0.0.1'] })).ok).toBe(true);
  });

  it('normalising twice equals normalising once (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 0, max: 32 }), (ip, len) => {
        const once = parseCidr(`${ip}/${len}`);
        if (!once.ok) return false;
        const twice = parseCidr(once.value.text);
        return twice.ok && twice.value.text === once.value.text && !twice.value.hadHostBits;
      }),
    );
    fc.assert(
      fc.property(fc.ipV6(), fc.integer({ min: 0, max: 128 }), (ip, len) => {
        const once = parseCidr(`${ip}/${len}`);
        if (!once.ok) return ip.includes('.'); // fast-check may produce IPv4-mapped forms, which kroute refuses
        const twice = parseCidr(once.value.text);
        return twice.ok && twice.value.text === once.value.text;
      }),
    );
  });
});
