/**
 * A cdk8s user's project from scratch: kroute-cdk8s from its packed tarball, cdk8s and constructs from the
 * registry; the program compiled as `cdk8s init typescript-app` compiles it (CommonJS, moduleResolution node) and as
 * an ES-module project (nodenext), run on Node 20 and 22, and its chart compared with the one built from the sources.
 */
import { BAD_GATEWAY, referenceObjects, TS_CHART } from './chart.js';
import { CDK8S_INIT_TSCONFIG, consumer, ESM_TSCONFIG, json, nodeBinaries, packedTarballs, type Consumer } from './consumers.js';

let project: Consumer;

beforeAll(async () => {
  const t = await packedTarballs();
  project = await consumer('cdk8s-user', [t['kroute-cdk8s']], ['cdk8s@^2.68.0', 'constructs@^10.3.0', 'typescript@~5.9.3', '@types/node@^20'], {
    'tsconfig.json': json(CDK8S_INIT_TSCONFIG),
    'main.ts': TS_CHART('kroute-cdk8s'),
    'esm/package.json': json({ type: 'module' }),
    'esm/tsconfig.json': json(ESM_TSCONFIG),
    'esm/index.ts': TS_CHART('kroute-cdk8s'),
  });
}, 600_000);

describe('kroute-cdk8s from its tarball, in a user\'s project', () => {
  it('installs only the construct library\'s own dependencies', async () => {
    const names = await project.installed();
    expect(names).toContain('kroute-cdk8s');
    expect(names).toContain('cdk8s');
    for (const n of names) expect(n).not.toMatch(/^(@pulumi\/|@kubernetes\/client-node$|prom-client$|kroute-agent$|kroute-pulumi$)/);
  });

  it.each(['CommonJS (cdk8s init typescript-app)', 'ES modules (nodenext)'])('type-checks and compiles as %s', async (kind) => {
    await project.must(process.execPath, ['node_modules/typescript/bin/tsc', ...(kind.startsWith('ES') ? ['-p', 'esm'] : [])]);
  });

  it('synthesizes the same chart as the sources, from CommonJS and ESM, on Node 20 and 22', async () => {
    const expected = referenceObjects();
    for (const { label, bin } of await nodeBinaries()) {
      for (const program of ['main.js', 'esm/bin/index.js']) {
        const r = await project.run(bin, [program]);
        expect({ label, program, code: r.code, stderr: r.stderr }).toEqual({ label, program, code: 0, stderr: '' });
        const out = JSON.parse(r.stdout) as { objects: unknown[]; error: string };
        expect(out.objects).toEqual(expected);
        expect(out.error).toContain(BAD_GATEWAY);
      }
    }
  });

  it('loads with require() and import() from plain JavaScript', async () => {
    const cjs = await project.must(process.execPath, ['-e', "const k = require('kroute-cdk8s'); console.log(typeof k.RoutingAgent, typeof k.EgressScope.NODE_POOLS)"]);
    expect(cjs.trim()).toBe('function string');
    const esm = await project.must(process.execPath, ['--input-type=module', '-e', "import { Route, NodeSelector } from 'kroute-cdk8s'; console.log(typeof Route, typeof NodeSelector.nodePool)"]);
    expect(esm.trim()).toBe('function function');
  });
});
