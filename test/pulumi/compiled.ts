/**
 * Compiles the Pulumi face (and the core it imports) to JavaScript once per test run, for the tests that need a
 * real Node process: the multi-language provider, which Pulumi's engine would start as a plugin, and a program
 * whose deployment must fail. The output goes under node_modules/.cache so that Node resolves the dependencies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { must } from '../net/netns.js';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..').replace(/\/lib$/, '');
/** Where the compiled JavaScript goes. */
export const OUT = join(ROOT, 'node_modules', '.cache', 'kroute-pulumi-test');

let compiled: Promise<void> | undefined;

/** Compiles once; later calls wait for the same compilation. */
export function compile(): Promise<void> {
  compiled ??= (async () => {
    mkdirSync(OUT, { recursive: true });
    await must(join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(ROOT, 'test', 'pulumi', 'compiled.tsconfig.json'), '--outDir', OUT]);
    // node_modules is a package-scope boundary: say that these files are ES modules.
    writeFileSync(join(OUT, 'package.json'), '{"type":"module"}\n');
  })();
  return compiled;
}

/** Writes an ES module script next to the compiled code and starts it with node. */
export function startScript(file: string, source: string, args: readonly string[] = []): ChildProcess {
  writeFileSync(join(OUT, file), source);
  return spawn(process.execPath, [join(OUT, file), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Collects a process's stdout and stderr until it exits. */
export function finished(p: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  p.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  p.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((res) => p.on('exit', (code) => res({ code, stdout, stderr })));
}
