/**
 * `npm run bench`: runs the benchmark modules one after another (they share the kernel), then writes
 * docs/benchmarks.md (a table with the date and the machine) and bench-results.json at the repository root.
 * Run a subset with module names as arguments: `node lib/test/bench/main.js program idle`.
 *
 * To add a module, add one line to MODULES: a file exporting `name` and `run(): Promise<BenchResult[]>`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../agent/agent-process.js';
import type { BenchModule, BenchResult } from './types.js';

const MODULES: Promise<BenchModule>[] = [
  import('./program.js'),
  import('./failover.js'),
  import('./idle.js'),
  import('./convergence.js'),
  import('./memory.js'),
  import('./image.js'),
];

interface ModuleReport {
  readonly module: string;
  readonly seconds: number;
  readonly results: readonly BenchResult[];
  readonly error?: string;
}

function machine(): { cpu: string; cores: number; memoryGiB: number; kernel: string; node: string } {
  const c = cpus();
  return { cpu: c[0]?.model.trim() ?? 'unknown', cores: c.length, memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, kernel: release(), node: process.version };
}

function markdown(date: string, m: ReturnType<typeof machine>, reports: readonly ModuleReport[]): string {
  const rows = reports.flatMap((r) => [
    ...r.results.map((x) => `| ${r.module} | ${x.name} | ${x.value} ${x.unit} | ${x.goal ?? ''}${x.met === undefined ? '' : x.met ? ' ✅' : ' ❌'} | ${x.note ?? ''} |`),
    ...(r.error ? [`| ${r.module} | (failed) | | | ${r.error.replace(/\|/g, '\\|').replace(/\n/g, ' ')} |`] : []),
  ]);
  return `# Benchmarks

Written by \`npm run bench\` (test/bench/main.ts); do not edit by hand. Medians over the runs named in each note.
Everything runs in network namespaces on one machine: the agent is the built \`lib/agent/main.js\` process, started
with \`ip netns exec\` in a DigitalOcean-shaped node namespace (test/net/topology.ts).

- Date: ${date}
- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB memory; Linux ${m.kernel}; Node ${m.node}

| Module | Figure | Value | Goal | How |
|---|---|---|---|---|
${rows.join('\n')}

Module run times: ${reports.map((r) => `${r.module} ${r.seconds} s`).join(', ')}.
${keptSection()}`;
}

/** What docs/benchmarks.md holds after KEPT_MARKER (figures measured outside `npm run bench`): kept on rewrite. */
const KEPT_MARKER = '<!-- kept by npm run bench -->';
function keptSection(): string {
  const text = existsSync(join(REPO_ROOT, 'docs', 'benchmarks.md')) ? readFileSync(join(REPO_ROOT, 'docs', 'benchmarks.md'), 'utf8') : '';
  const at = text.indexOf(KEPT_MARKER);
  return at < 0 ? '' : `\n${text.slice(at)}`;
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  const date = new Date().toISOString();
  const reports: ModuleReport[] = [];
  for (const pending of MODULES) {
    const mod = await pending;
    if (only.length && !only.includes(mod.name)) continue;
    const t = Date.now();
    process.stdout.write(`bench ${mod.name}...\n`);
    try {
      const results = await mod.run();
      for (const r of results) process.stdout.write(`  ${r.name}: ${r.value} ${r.unit}${r.goal ? ` (goal ${r.goal}${r.met === false ? ', NOT met' : ''})` : ''}\n`);
      reports.push({ module: mod.name, seconds: Math.round((Date.now() - t) / 1000), results });
    } catch (e) {
      const error = (e as Error).stack ?? String(e);
      process.stderr.write(`bench ${mod.name} failed: ${error}\n`);
      reports.push({ module: mod.name, seconds: Math.round((Date.now() - t) / 1000), results: [], error: (e as Error).message });
    }
  }
  const m = machine();
  writeFileSync(join(REPO_ROOT, 'bench-results.json'), JSON.stringify({ date, machine: m, modules: reports }, null, 2) + '\n');
  writeFileSync(join(REPO_ROOT, 'docs', 'benchmarks.md'), markdown(date, m, reports));
  process.stdout.write(`wrote docs/benchmarks.md and bench-results.json\n`);
  return reports.some((r) => r.error) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
