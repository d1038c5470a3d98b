#!/usr/bin/env node
/**
 * kroute-agent: programs static routes from Route objects on this node. Flags and environment variables are those of
 * core/options.ts (AGENT_OPTIONS). Exit codes: 0 after SIGTERM/SIGINT (routes stay in place), 1 on a failure to
 * start, 2 on bad flags or a refused environment.
 */
import { AGENT_OPTIONS, formatFieldError, parseAgentArgs } from '../core/index.js';
import { jsonLogger } from './log.js';
import { netnsRefusal } from './netns-guard.js';
import { runAgent, type RunningAgent } from './run.js';

/** How long a stop may take before the agent exits anyway (the issue's goal: a second or two). */
const STOP_DEADLINE_MS = 1500;

function usage(): string {
  const lines = Object.values(AGENT_OPTIONS).map((o) => {
    const def = Array.isArray(o.default) ? o.default.join(',') : String(o.default);
    return `  --${o.flag} (${o.env})${def !== '' ? ` [default ${def}]` : ''}\n      ${o.description}`;
  });
  return `usage: kroute-agent --node-name NAME [--routes FILE|DIR] [options]\n\n${lines.join('\n')}\n`;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return 0;
  }
  const parsed = parseAgentArgs(argv, process.env);
  if (!parsed.ok) {
    for (const e of parsed.errors) process.stderr.write(`kroute-agent: ${formatFieldError(e)}\n`);
    process.stderr.write('kroute-agent: see --help\n');
    return 2;
  }
  const config = parsed.value;
  const log = jsonLogger(config.logLevel);
  const refusal = await netnsRefusal(process.env);
  if (refusal) {
    log.error('refusing to run', { reason: refusal });
    return 2;
  }
  let agent: RunningAgent;
  try {
    agent = await runAgent(config, log);
  } catch (e) {
    log.error('agent failed to start', { error: e as Error });
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info('stopping; kernel routes stay in place', { signal });
      // Whatever the API server does (frozen, blackholed, gone), the agent is gone within STOP_DEADLINE_MS: the kernel
      // keeps what it has either way, and nothing left to finish (a report, a watch) is worth a SIGKILL later.
      const late = setTimeout(() => {
        log.warn('stopping took too long; exiting anyway (kernel routes stay in place)', { afterMs: STOP_DEADLINE_MS });
        resolve(0);
      }, STOP_DEADLINE_MS);
      agent.stop().then(
        () => {
          clearTimeout(late);
          resolve(0);
        },
        (e: Error) => {
          clearTimeout(late);
          log.error('error while stopping', { error: e });
          resolve(0);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`kroute-agent: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
