import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, { default: string; types: string }>;
  peerDependenciesMeta: Record<string, { optional: boolean }>;
  dependencies: Record<string, string>;
};

/** Bare package names reachable from a compiled entry point through its static and dynamic imports. */
function reachablePackages(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/(?:from\s*|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
      const spec = m[1];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:')) packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
    }
  };
  visit(entry);
  return packages;
}

describe('packaging (needs `npm run build` first; npm test runs it)', () => {
  it('exports kroute/api, kroute/cdk8s, kroute/pulumi and kroute/agent', () => {
    expect(Object.keys(pkg.exports).sort()).toEqual(['./agent', './api', './cdk8s', './pulumi']);
  });

  it('keeps cdk8s and Pulumi optional peers, each imported only by its own face', () => {
    for (const p of ['cdk8s', 'constructs', '@pulumi/pulumi', '@pulumi/kubernetes', '@pulumi/digitalocean']) {
      expect(pkg.peerDependenciesMeta[p]).toEqual({ optional: true });
      expect(Object.keys(pkg.dependencies)).not.toContain(p);
    }
    const entry = (sub: string) => join(root, pkg.exports[sub].default);
    for (const sub of Object.keys(pkg.exports)) expect(existsSync(entry(sub))).toBe(true);
    const api = reachablePackages(entry('./api'));
    const cdk8s = reachablePackages(entry('./cdk8s'));
    const pulumi = reachablePackages(entry('./pulumi'));
    expect([...api].filter((p) => p.startsWith('@pulumi') || p === 'cdk8s' || p === '@kubernetes/client-node')).toEqual([]);
    expect([...cdk8s].filter((p) => p.startsWith('@pulumi'))).toEqual([]);
    expect(cdk8s).toContain('cdk8s');
    expect([...pulumi].filter((p) => p === 'cdk8s' || p === 'constructs')).toEqual([]);
  });
});
