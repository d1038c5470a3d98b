/**
 * Checks that run inside apply(): an Output-valued input that turns out bad fails the deployment with a
 * `pulumi.ResourceError` naming the component. Pulumi's runtime surfaces that as an unhandled rejection, which
 * the language host turns into a failed deployment; Jest would claim it for itself, so the program runs in its
 * own Node process under Pulumi's runtime mocks (the engine and the DigitalOcean API are not available here).
 */
import { compile, finished, startScript } from './compiled.js';

interface Failure {
  name: string;
  resourceError: boolean;
  component: string;
  message: string;
  errors: Array<{ field: string; code: string }>;
}

const PROGRAM = `
import * as pulumi from '@pulumi/pulumi';
const failures = [];
process.on('unhandledRejection', (e) => failures.push(e));
// FAKE cloud: every resource is accepted as given.
await pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name + '-id', state: a.inputs }), call: (a) => a.inputs }, 'kroute', 'test', false);
const kroute = await import('./pulumi-provider/digitalocean/index.js');
const components = {
  late: new kroute.Route('late', { destinations: ['0.0.0.0/0'], gateways: [pulumi.output('10.114.0.999')] }),
  nat: new kroute.NatGatewayEgress('nat', { region: 'fra1', vpcUuid: pulumi.output('vpc-1'), vpcRegion: pulumi.output('nyc3') }),
};
process.once('beforeExit', () => {
  const seen = new Map();
  for (const f of failures) {
    const component = Object.keys(components).find((k) => components[k] === f.resource) ?? '?';
    seen.set(component + f.message, { name: f.name, resourceError: pulumi.ResourceError.isInstance(f), component, message: f.message, errors: f.errors ?? [] });
  }
  console.log(JSON.stringify([...seen.values()]));
});
`;

let failures: Failure[];

beforeAll(async () => {
  await compile();
  const r = await finished(startScript('late-failure.mjs', PROGRAM));
  failures = JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as Failure[];
}, 120_000);

describe('checks of values known only at deployment', () => {
  it('fail the Route with a ResourceError naming it and the field', () => {
    const f = failures.filter((x) => x.component === 'late');
    expect(f.length).toBeGreaterThan(0);
    for (const x of f) {
      expect(x.resourceError).toBe(true);
      expect(x.message).toMatch(/Route "late" is invalid:\n {2}- spec.gateways\[0\]: "10.114.0.999" is not an IPv4 or IPv6 address/);
      expect(x.errors.map((e) => [e.field, e.code])).toEqual([['spec.gateways[0]', 'Invalid']]);
    }
  });

  it('fail a NAT gateway whose VPC turns out to be in another region', () => {
    const f = failures.filter((x) => x.component === 'nat');
    expect(f.length).toBeGreaterThan(0);
    for (const x of f) {
      expect(x.resourceError).toBe(true);
      expect(x.errors.map((e) => [e.field, e.code])).toEqual([['args.vpcRegion', 'Invalid']]);
      expect(x.message).toMatch(/NatGatewayEgress "nat".*\n.*"nyc3" is not the region of this component \(fra1\)/);
    }
  });
});
