/**
 * A Pulumi user's project from scratch, on a cluster that is not DigitalOcean's: kroute-pulumi from its packed
 * tarball with only @pulumi/pulumi and @pulumi/kubernetes from the registry; the program compiled as
 * `pulumi new typescript` compiles it (CommonJS) and as an ES-module project, run under Pulumi's runtime mocks
 * (no engine: Pulumi's own engine runs in test/pulumi-engine) on Node 20 and 22. Then a DigitalOcean user's
 * project, which adds @pulumi/digitalocean and imports kroute-pulumi/digitalocean.
 */
import { consumer, ESM_TSCONFIG, json, nodeBinaries, packedTarballs, PULUMI_DEPS, PULUMI_DO_DEPS, PULUMI_NEW_TSCONFIG, type Consumer } from './consumers.js';

/** Registers Pulumi's mocks before the program creates anything; records each resource. */
const MOCKS = `import * as pulumi from '@pulumi/pulumi';

// FAKE engine: Pulumi's runtime mocks accept every resource as given.
export const registered: string[] = [];
pulumi.runtime.setMocks(
  {
    newResource: (a: pulumi.runtime.MockResourceArgs) => {
      registered.push(a.type + ' ' + a.name);
      return { id: a.name + '-id', state: a.inputs };
    },
    call: (a: pulumi.runtime.MockCallArgs) => a.inputs,
  },
  'consumer',
  'dev',
  false,
);
`;

/** The user's program: the cluster half only. */
const PROGRAM = `import { registered } from './mocks.js';
import { ComponentValidationError, EgressScope, NodeSelectors, Route, RoutingAgent, StaticEgress } from 'kroute-pulumi';

const agent = new RoutingAgent('agent', { namespace: 'kroute', agent: { probeIntervalSeconds: 10 } });
new Route('vpn', { destinations: ['172.16.0.0/12'], gateways: ['10.114.0.5'], nodeSelector: NodeSelectors.nodePool('worker-pool') }, { dependsOn: [agent] });
new StaticEgress('egress', { gateways: ['10.114.0.3', '10.114.0.4'], scope: EgressScope.NODE_POOLS, nodePools: ['egress-pool'] });

let error = '';
try {
  new Route('bad', { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.999'] });
} catch (e) {
  error = e instanceof ComponentValidationError ? e.message : 'not a ComponentValidationError: ' + String(e);
}
process.once('beforeExit', () => console.log(JSON.stringify({ registered: [...registered].sort(), error })));
`;

const FILES = {
  'tsconfig.json': json({ ...PULUMI_NEW_TSCONFIG, files: ['index.ts', 'mocks.ts'] }),
  'index.ts': PROGRAM,
  'mocks.ts': MOCKS,
  'esm/package.json': json({ type: 'module' }),
  'esm/tsconfig.json': json({ ...ESM_TSCONFIG, files: ['index.ts', 'mocks.ts'] }),
  'esm/index.ts': PROGRAM,
  'esm/mocks.ts': MOCKS,
};

let project: Consumer;

beforeAll(async () => {
  const t = await packedTarballs();
  project = await consumer('pulumi-user', [t['kroute-pulumi']], PULUMI_DEPS, FILES);
}, 600_000);

describe('kroute-pulumi from its tarball, in a user\'s project without DigitalOcean', () => {
  it('installs no cdk8s, no agent dependency and no @pulumi/digitalocean', async () => {
    const names = await project.installed();
    expect(names).toContain('kroute-pulumi');
    expect(names).toContain('@pulumi/kubernetes');
    for (const n of names) expect(n).not.toMatch(/^(cdk8s|constructs|@kubernetes\/client-node|prom-client|@pulumi\/digitalocean|kroute-agent|kroute-cdk8s)$/);
  });

  it.each(['CommonJS (pulumi new typescript)', 'ES modules (nodenext)'])('type-checks and compiles as %s', async (kind) => {
    await project.must(process.execPath, ['node_modules/typescript/bin/tsc', ...(kind.startsWith('ES') ? ['-p', 'esm'] : [])]);
  });

  it('creates the components\' resources under the mocks, from CommonJS and ESM, on Node 20 and 22', async () => {
    for (const { label, bin } of await nodeBinaries()) {
      for (const program of ['bin/index.js', 'esm/bin/index.js']) {
        const r = await project.run(bin, [program]);
        expect({ label, program, code: r.code }).toEqual({ label, program, code: 0 });
        const out = JSON.parse(r.stdout) as { registered: string[]; error: string };
        expect(out.registered).toEqual(
          expect.arrayContaining([
            'kroute:index:RoutingAgent agent',
            'kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition agent-crd',
            'kubernetes:apps/v1:DaemonSet agent-daemon-set',
            'kroute:index:Route vpn',
            'kroute:index:StaticEgress egress',
          ]),
        );
        expect(out.registered.filter((x) => x.startsWith('kubernetes:networking.doks.digitalocean.com/v1alpha1:Route'))).toHaveLength(2);
        expect(out.error).toContain('spec.gateways[0]: "10.114.0.999" is not an IPv4 or IPv6 address');
      }
    }
  });

  it('keeps the DigitalOcean patterns behind kroute-pulumi/digitalocean, which names the missing peer', async () => {
    const ok = await project.run(process.execPath, ['-e', "require('kroute-pulumi')"]);
    expect(ok).toMatchObject({ code: 0 });
    const r = await project.run(process.execPath, ['-e', "require('kroute-pulumi/digitalocean')"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Cannot find module '@pulumi/digitalocean'");
  });
});

describe('kroute-pulumi/digitalocean, in a DigitalOcean user\'s project', () => {
  it('imports the DigitalOcean patterns and the cluster half from one entry, CommonJS and ESM', async () => {
    const t = await packedTarballs();
    const doProject = await consumer('pulumi-do-user', [t['kroute-pulumi']], PULUMI_DO_DEPS, {});
    const cjs = await doProject.must(process.execPath, ['-e', "const k = require('kroute-pulumi/digitalocean'); console.log([k.DoksCluster, k.NatGatewayEgress, k.GatewayDropletEgress, k.EgressNodePool, k.RoutingAgent].map((c) => typeof c).join())"]);
    expect(cjs.trim()).toBe('function,function,function,function,function');
    const esm = await doProject.must(process.execPath, ['--input-type=module', '-e', "import { DoksCluster, StaticEgress } from 'kroute-pulumi/digitalocean'; console.log(typeof DoksCluster, typeof StaticEgress)"]);
    expect(esm.trim()).toBe('function function');
  }, 600_000);
});
