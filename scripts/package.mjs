#!/usr/bin/env node
/**
 * `npm run package`: builds the workspace packages, then writes the construct library for other languages under
 * dist/packages/ with jsii-pacmak: python (a wheel and an sdist) by default; `-- python,java,go` for more, each only
 * where its toolchain is installed (java: JDK + Maven, go: Go). pacmak's output is kept per target and .jsii
 * assembly + compiled JavaScript under ${XDG_CACHE_HOME:-~/.cache}/kroute/packages/ and copied from there while they are unchanged:
 * pacmak's python step alone takes one to two minutes, java more.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const stage = join(root, '.cache', 'jsii', 'kroute-cdk8s');
const out = join(root, 'dist', 'packages');
const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kroute', 'packages');
const targets = (process.argv[2] ?? 'python').split(',').filter((t) => t !== '');
const toolchain = { python: ['python3', '--version'], java: ['mvn', '--version'], go: ['go', 'version'], dotnet: ['dotnet', '--version'] };

const must = (cmd, args, cwd = root) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd });
  if (r.status !== 0) {
    console.error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
};

must('npm', ['run', 'build:packages', '--silent']);
// The key covers what the wheel carries: the assembly (types and docs) and the compiled JavaScript it bundles (a
// change inside core/ alters lib/ but not the assembly).
const hash = createHash('sha256').update(readFileSync(join(stage, '.jsii'))).update(readFileSync(join(stage, 'package.json')));
const addTree = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) addTree(p);
    else hash.update(`${p.slice(stage.length)}\0`).update(readFileSync(p));
  }
};
addTree(join(stage, 'lib'));
const key = hash.digest('hex');
mkdirSync(out, { recursive: true });
for (const target of targets) {
  const tool = toolchain[target];
  if (!tool) {
    console.error(`unknown target ${target}; known: ${Object.keys(toolchain).join(', ')}`);
    process.exit(2);
  }
  if (spawnSync(tool[0], tool.slice(1), { stdio: 'ignore' }).status !== 0) {
    console.error(`${target}: ${tool[0]} is not installed; skipped`);
    process.exitCode = 1;
    continue;
  }
  const kept = join(cache, `${target}-${key.slice(0, 16)}`);
  if (!existsSync(join(kept, '.done'))) {
    const t0 = Date.now();
    rmSync(kept, { recursive: true, force: true });
    must(join(root, 'node_modules', '.bin', 'jsii-pacmak'), ['--target', target, '--outdir', kept], stage);
    writeFileSync(join(kept, '.done'), key);
    console.log(`${target}: built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  }
  rmSync(join(out, target), { recursive: true, force: true });
  cpSync(join(kept, target), join(out, target), { recursive: true });
  console.log(`${target}: dist/packages/${target}`);
}
