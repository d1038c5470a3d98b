#!/usr/bin/env node
/**
 * Builds the workspace package in the current directory (npm runs workspace scripts there):
 *   cjs  - tsc -p tsconfig.json, CommonJS into lib/, marked by lib/package.json {"type":"commonjs"}
 *   esm  - tsc -p tsconfig.json, ES modules into lib/ (the agent)
 *   jsii - jsii (tsconfig.jsii.json), CommonJS into lib/ and the .jsii assembly (the construct library)
 * The sources stay ES modules for the repository's own build and tests; only lib/ is CommonJS (docs/packaging.md).
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';

const mode = process.argv[2];
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'node_modules', '.bin');
const run = (cmd, args, cwd = '.') => {
  const r = spawnSync(join(bin, cmd), args, { stdio: 'inherit', cwd });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

/** Where jsii compiles the construct library: a copy of its sources and the core's, in one package. */
export const JSII_STAGE = join(root, '.cache', 'jsii', 'kroute-cdk8s');

/** The .ts files of a folder, recursively, skipping lib/ and node_modules/. */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'lib' || e.name === 'node_modules' ? [] : sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/**
 * jsii takes the package a source file belongs to from the nearest package.json, so core/ (its own package,
 * kroute-core) cannot be compiled into kroute-cdk8s in place: stage constructs/*.ts and core/**\/*.ts, the
 * package.json, README and LICENSE under .cache/jsii/kroute-cdk8s, compile there (skipped when nothing changed)
 * and copy lib/ and .jsii back. jsii-pacmak packs from the same folder (scripts/package.mjs).
 */
function jsii() {
  const pkgDir = process.cwd();
  const files = [...sources(pkgDir).map((f) => ['constructs', f]), ...sources(join(root, 'core')).map((f) => ['core', f])];
  const extra = ['package.json', 'tsconfig.jsii.json', 'README.md'].map((f) => join(pkgDir, f));
  const hash = createHash('sha256');
  for (const [, f] of files) hash.update(f).update(readFileSync(f));
  for (const f of extra) hash.update(f).update(readFileSync(f));
  const key = hash.digest('hex');
  const stamp = join(JSII_STAGE, '.inputs');
  const fresh = existsSync(stamp) && readFileSync(stamp, 'utf8') === key && existsSync(join(JSII_STAGE, '.jsii'));
  if (!fresh) {
    rmSync(JSII_STAGE, { recursive: true, force: true });
    for (const [folder, f] of files) {
      const base = folder === 'core' ? join(root, 'core') : pkgDir;
      const to = join(JSII_STAGE, folder, f.slice(base.length + 1));
      mkdirSync(dirname(to), { recursive: true });
      cpSync(f, to);
    }
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    delete pkg.type; // jsii's output is CommonJS
    delete pkg.scripts;
    pkg.jsii.outdir = join(root, 'dist', 'packages');
    // jsii wants non-jsii dependencies bundled, and jsii-pacmak puts the bundle inside the wheel (the npm tarball
    // itself declares them as plain dependencies).
    pkg.bundledDependencies = Object.keys(pkg.dependencies ?? {});
    writeFileSync(join(JSII_STAGE, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');
    const tsconfig = JSON.parse(readFileSync(join(pkgDir, 'tsconfig.jsii.json'), 'utf8'));
    tsconfig.compilerOptions.rootDir = '.';
    tsconfig.include = ['constructs/*.ts', 'core/**/*.ts'];
    writeFileSync(join(JSII_STAGE, 'tsconfig.jsii.json'), JSON.stringify(tsconfig, null, 2) + '\n');
    cpSync(join(pkgDir, 'README.md'), join(JSII_STAGE, 'README.md'));
    cpSync(join(root, 'LICENSE'), join(JSII_STAGE, 'LICENSE'));
    for (const dep of pkg.bundledDependencies) cpSync(join(root, 'node_modules', dep), join(JSII_STAGE, 'node_modules', dep), { recursive: true, dereference: true });
    run('jsii', ['--silence-warnings=reserved-word'], JSII_STAGE);
    writeFileSync(stamp, key);
  }
  cpSync(join(JSII_STAGE, 'lib'), join(pkgDir, 'lib'), { recursive: true });
  cpSync(join(JSII_STAGE, '.jsii'), join(pkgDir, '.jsii'));
}

/** A hash of everything a build reads: this package's and the core's sources, package.json, the tsconfigs. */
function inputsKey() {
  const hash = createHash('sha256').update(mode);
  const files = [...sources('.'), ...sources(join(root, 'core')), 'package.json', join(root, 'tsconfig.package.json')];
  for (const f of readdirSync('.')) if (/^tsconfig.*\.json$/.test(f)) files.push(f);
  for (const f of files.sort()) hash.update(f).update(readFileSync(f));
  return hash.digest('hex');
}

if (!['cjs', 'esm', 'jsii'].includes(mode)) {
  console.error(`usage: build-package.mjs cjs|esm|jsii (got ${mode})`);
  process.exit(2);
}
cpSync(join(root, 'LICENSE'), 'LICENSE');
if (process.argv[3] === 'plugin') {
  // The Pulumi plugin's entry: one small CommonJS file, transpiled without a type check (test/packaging runs it).
  const ts = (await import('typescript')).default;
  const src = readFileSync(join('plugin', 'index.ts'), 'utf8');
  const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true } });
  writeFileSync(join('plugin', 'index.js'), out.outputText);
}
const key = inputsKey();
const stamp = join('lib', '.inputs');
if (existsSync(stamp) && readFileSync(stamp, 'utf8') === key) {
  console.log(`${basename(process.cwd())}: lib/ is up to date`);
  process.exit(0);
}
rmSync('lib', { recursive: true, force: true });
if (mode === 'jsii') jsii();
else run('tsc', ['-p', 'tsconfig.json']);
if (mode !== 'esm') writeFileSync(join('lib', 'package.json'), '{\n  "type": "commonjs"\n}\n');
writeFileSync(stamp, key);
