#!/usr/bin/env node
/**
 * kroute (also installed as kubectl-kroute): what a node will get, and why a Route is or is not there. Reuses the
 * core's planner and the agent's readers; writes nothing, anywhere. Exit codes: 0 nothing to change / all applied,
 * 2 changes pending or problems, 1 usage or errors. docs/cli.md.
 */
import { KROUTE_VERSION } from '../../core/index.js';
import { parseCliArgs, USAGE } from './args.js';
import { runCli } from './run.js';

async function main(): Promise<number> {
  const parsed = parseCliArgs(process.argv.slice(2), process.env);
  if (!parsed.ok) {
    for (const e of parsed.errors) process.stderr.write(`kroute: ${e}\n`);
    process.stderr.write('kroute: see kroute --help\n');
    return 1;
  }
  const args = parsed.value;
  if (args.command === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.command === 'version') {
    process.stdout.write(`kroute ${KROUTE_VERSION}\n`);
    return 0;
  }
  const r = await runCli(args);
  process.stdout.write(r.output);
  if (r.error) process.stderr.write(`kroute: ${r.error}\n`);
  return r.code;
}

// Exit once the output is flushed: the API client's keep-alive sockets would hold the process open.
main().then(
  (code) => process.stdout.write('', () => process.exit(code)),
  (e: Error) => process.stderr.write(`kroute: ${e.message}\n`, () => process.exit(1)),
);
