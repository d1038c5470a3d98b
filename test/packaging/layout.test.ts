/**
 * The packages' shape, read from the built lib/ folders: each entry point exists, is CommonJS where the package
 * says so, and reaches (through its requires and imports) only packages its package.json declares; the Pulumi main
 * entry never reaches @pulumi/digitalocean; no face reaches another face or the agent's dependencies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { mustRun } from '../image/podman.js';
import { consumer, PACKAGES, ROOT, WORK } from './consumers.js';

interface Pkg {
  name: string;
  type?: string;
  exports: Record<string, string | { types: string; default: string }>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  bin?: Record<string, string>;
}

/** Bare package names reachable from a compiled file through require(), import and import(). */
function reachablePackages(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?<![\w.$'"])(?:require\(\s*|from\s*|import\s*\(\s*|import\s+)['"]([^'"\s,()]+)['"]/g)) {
      const spec = m[1];
      if (spec.startsWith('.')) {
        const p = resolve(dirname(file), spec);
        visit(existsSync(p) && !p.endsWith('.js') ? join(p, 'index.js') : p.endsWith('.js') ? p : `${p}.js`);
      } else if (!spec.startsWith('node:') && !builtinModules.includes(spec)) {
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
      }
    }
  };
  visit(entry);
  return packages;
}

const pkgOf = (folder: string): Pkg => JSON.parse(readFileSync(join(ROOT, folder, 'package.json'), 'utf8')) as Pkg;
const entry = (folder: string, sub = '.'): string => {
  const e = pkgOf(folder).exports[sub];
  return join(ROOT, folder, typeof e === 'string' ? e : e.default);
};

beforeAll(async () => {
  await mustRun('npm', ['run', 'build:packages', '--silent'], { cwd: ROOT, timeoutMs: 900_000 });
}, 900_000);

describe('package layout', () => {
  it('names the four packages as on npm, each a workspace of the top-level package.json', () => {
    const top = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[]; private: boolean };
    expect(top.private).toBe(true);
    expect(top.workspaces.sort()).toEqual(Object.keys(PACKAGES).sort());
    for (const [folder, name] of Object.entries(PACKAGES)) expect(pkgOf(folder).name).toBe(name);
  });

  it.each(Object.keys(PACKAGES))('%s: every entry point exists and reaches only declared packages', (folder) => {
    const pkg = pkgOf(folder);
    const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
    for (const sub of Object.keys(pkg.exports).filter((s) => !s.endsWith('.json') && !s.endsWith('.jsii'))) {
      const file = entry(folder, sub);
      expect(existsSync(file)).toBe(true);
      const reached = [...reachablePackages(file)];
      expect({ sub, undeclared: reached.filter((p) => !declared.has(p)) }).toEqual({ sub, undeclared: [] });
    }
  });

  it('ships CommonJS for the libraries (lib/package.json) and ES modules for the agent', () => {
    for (const folder of ['core', 'constructs', 'pulumi-provider']) {
      expect(JSON.parse(readFileSync(join(ROOT, folder, 'lib', 'package.json'), 'utf8'))).toEqual({ type: 'commonjs' });
      expect(readFileSync(entry(folder), 'utf8')).toMatch(/require\(/);
    }
    expect(pkgOf('agent').type).toBe('module');
    expect(existsSync(join(ROOT, 'agent', 'lib', 'package.json'))).toBe(false);
  });

  it('keeps each face to its own framework: no Pulumi in cdk8s, no cdk8s or DigitalOcean in kroute-pulumi\'s main entry', () => {
    const cdk8s = [...reachablePackages(entry('constructs'))];
    const pulumi = [...reachablePackages(entry('pulumi-provider'))];
    const digitalocean = [...reachablePackages(entry('pulumi-provider', './digitalocean'))];
    expect(cdk8s.filter((p) => /^@pulumi\/|^@kubernetes\/|^prom-client$/.test(p))).toEqual([]);
    expect(pulumi.filter((p) => /^cdk8s$|^constructs$|^@pulumi\/digitalocean$|^@kubernetes\//.test(p))).toEqual([]);
    expect(digitalocean).toContain('@pulumi/digitalocean');
    expect([...reachablePackages(entry('core'))]).toEqual(['ipaddr.js']);
  });

  it('serves the faces from the top-level package too, which is what a git dependency installs (prepare builds it)', async () => {
    const dir = join(WORK, 'top-level-tarball');
    await mustRun('rm', ['-rf', dir]);
    await mustRun('mkdir', ['-p', dir]);
    const out = await mustRun('npm', ['pack', '--pack-destination', dir, '--json', '--silent', '--ignore-scripts'], { cwd: ROOT });
    const [packed] = JSON.parse(out) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'constructs/lib/constructs/index.js', 'pulumi-provider/lib/pulumi-provider/digitalocean/index.js', 'core/lib/index.js']));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    const user = await consumer('git-user', [join(dir, packed.filename)], ['cdk8s@^2.68.0', 'constructs@^10.3.0'], {});
    const r = await user.must(process.execPath, ['-e', "const k = require('kroute/cdk8s'); const { App, Chart } = require('cdk8s'); const c = new Chart(new App(), 'c'); new k.Route(c, 'r', { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.3'] }); console.log(c.toJson()[0].kind)"]);
    expect(r.trim()).toBe('Route');
    expect(await user.installed()).not.toContain('@kubernetes/client-node');
  }, 600_000);

  it('puts the jsii assembly and the Pulumi plugin in the packages', () => {
    const jsii = JSON.parse(readFileSync(join(ROOT, 'constructs', '.jsii'), 'utf8')) as { name: string; types: Record<string, unknown> };
    expect(jsii.name).toBe('kroute-cdk8s');
    expect(Object.keys(jsii.types)).toEqual(expect.arrayContaining(['kroute-cdk8s.Route', 'kroute-cdk8s.RoutingAgent', 'kroute-cdk8s.StaticEgress']));
    const plugin = JSON.parse(readFileSync(join(ROOT, 'pulumi-provider', 'plugin', 'package.json'), 'utf8')) as { name: string; main: string; type?: string };
    expect(plugin).toMatchObject({ name: 'kroute', main: 'index.js' });
    expect(plugin.type).toBeUndefined();
    expect(readFileSync(join(ROOT, 'pulumi-provider', 'plugin', 'index.js'), 'utf8')).toContain('require("../lib/pulumi-provider/digitalocean/index.js")');
  });
});
