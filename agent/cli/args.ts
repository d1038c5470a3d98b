/**
 * The command line of `kroute`: a command, its positional names, the command's own flags, and every agent option
 * (core/options.ts) so the plan is made with the node's real settings (`--route-protocol`, `--forward-probe-target`,
 * `--public-interface`...). Usage errors name the flag and the value.
 */
import { fieldError, formatFieldError, parseAgentArgs, parseIp, type AgentConfig, type FieldError } from '../../core/index.js';

/** What the command line asks for. */
export interface CliArgs {
  readonly command: 'plan' | 'explain-route' | 'explain-node' | 'help' | 'version';
  /** The node (plan, explain node) or Route (explain route) named; empty when none. */
  readonly name: string;
  readonly output: 'table' | 'json';
  /** `-f`: proposed Route files. */
  readonly files: readonly string[];
  /** `--host`: `local`, `none`, a file, or inline YAML/JSON. @default none */
  readonly host: string;
  /** `--gateways-down`: gateways to plan as out of rotation, beside those the node reports. */
  readonly gatewaysDown: readonly string[];
  /** The agent options (`--routes` selects offline mode). */
  readonly config: AgentConfig;
}

/** The usage text. */
export const USAGE = `usage:
  kroute plan [NODE] [--host local|none|FILE] [-f ROUTE.yaml]... [-o table|json] [agent options]
  kroute explain route NAME [-o table|json] [agent options]
  kroute explain node NAME [-o table|json] [agent options]
  kroute version

Read-only: kroute never writes to the cluster or the kernel. Against a cluster (kubeconfig from --kubeconfig,
KUBECONFIG or ~/.kube/config) it needs get/list on routes and nodes, and get on the kubernetes Endpoints
(ClusterRole kroute-viewer). Offline: --routes FILE|DIR --node-name N [--node-labels k=v,...].

  -o, --output table|json   table (default) or stable JSON (docs/cli.md)
  -f, --filename FILE|DIR   plan: the difference these proposed Routes make on each node they select
  --host local|none|FILE    plan: host facts and kernel state: this machine's (run on the node), none (default),
                            or a stand-in description (YAML/JSON of defaultV4, publicInterface, dnsServers, ...)
  --gateways-down A,B       plan as if these gateways were out of rotation
  agent options             as kroute-agent --help lists them; they shape the plan as they shape the agent's

Exit codes: 0 nothing to change / all applied; 2 changes pending or problems; 1 usage or errors.
`;

const OWN_VALUE_FLAGS: Record<string, 'output' | 'files' | 'host' | 'gatewaysDown'> = {
  '-o': 'output', '--output': 'output', '-f': 'files', '--filename': 'files', '--host': 'host', '--gateways-down': 'gatewaysDown',
};

/** Parses `argv` (after `kroute`); `env` supplies the agent's environment variables as for the agent. */
export function parseCliArgs(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): { ok: true; value: CliArgs } | { ok: false; errors: string[] } {
  const errs: FieldError[] = [];
  const positional: string[] = [];
  let i = 0;
  while (i < argv.length && !argv[i].startsWith('-')) positional.push(argv[i++]);
  const rest = argv.slice(i);
  if (positional.length === 0 && (rest.includes('--help') || rest.includes('-h'))) positional.push('help');
  const [verb, a, b, ...extra] = positional;
  let command: CliArgs['command'];
  let name = '';
  if (verb === 'plan') {
    command = 'plan';
    name = a ?? '';
    if (b !== undefined) errs.push(fieldError('argv', 'Invalid', 'plan takes at most one node name', b));
  } else if (verb === 'explain') {
    if (a !== 'route' && a !== 'node') return { ok: false, errors: [`explain: say what to explain: "explain route NAME" or "explain node NAME" (got ${JSON.stringify(a ?? '')})`] };
    command = a === 'route' ? 'explain-route' : 'explain-node';
    if (!b) return { ok: false, errors: [`explain ${a}: needs a ${a} name`] };
    name = b;
    if (extra.length) errs.push(fieldError('argv', 'Invalid', `explain ${a} takes one name`, extra[0]));
  } else if (verb === 'help' || verb === undefined) command = 'help';
  else if (verb === 'version') command = 'version';
  else return { ok: false, errors: [`unknown command ${JSON.stringify(verb)}: plan, explain, version or help`] };
  if (rest.includes('--help') || rest.includes('-h')) command = 'help';

  let output = 'table';
  let host = 'none';
  const files: string[] = [];
  const gatewaysDown: string[] = [];
  const agent: string[] = [];
  for (let j = 0; j < rest.length; j++) {
    const t = rest[j];
    if (t === '--help' || t === '-h') continue;
    const eq = t.startsWith('--') ? t.indexOf('=') : -1;
    const flag = eq > 0 ? t.slice(0, eq) : t;
    const own = OWN_VALUE_FLAGS[flag];
    if (!own) {
      if (!t.startsWith('--') && t.startsWith('-')) errs.push(fieldError(t, 'NotSupported', 'is not a known flag'));
      else if (!t.startsWith('-')) errs.push(fieldError('argv', 'Invalid', 'names come before flags (kroute plan NODE --flag ...)', t));
      else agent.push(t);
      // An agent flag's value rides along; parseAgentArgs takes it.
      if (t.startsWith('--') && eq < 0 && j + 1 < rest.length && !rest[j + 1].startsWith('-')) agent.push(rest[++j]);
      continue;
    }
    let value: string | undefined;
    if (eq > 0) value = t.slice(eq + 1);
    else if (j + 1 < rest.length) value = rest[++j];
    if (value === undefined) {
      errs.push(fieldError(flag, 'Required', 'needs a value'));
      continue;
    }
    if (own === 'output') {
      if (value !== 'table' && value !== 'json') errs.push(fieldError(flag, 'NotSupported', 'must be table or json', value));
      output = value;
    } else if (own === 'files') files.push(value);
    else if (own === 'host') host = value;
    else {
      value.split(',').map((s) => s.trim()).filter(Boolean).forEach((g, k) => {
        const p = parseIp(g);
        if (!p.ok) errs.push(fieldError(`${flag}[${k}]`, 'Invalid', p.reason, g));
        else gatewaysDown.push(p.value.text);
      });
    }
  }
  if (name && (command === 'plan' || command === 'explain-node')) agent.push(`--node-name=${name}`);
  // The agent requires a node name; kroute needs one only to plan one node or explain one.
  const hasNode = agent.some((t) => t === '--node-name' || t.startsWith('--node-name=')) || Boolean(env.NODE_NAME);
  const parsed = parseAgentArgs(hasNode ? agent : [...agent, '--node-name=-'], env);
  if (!parsed.ok) errs.push(...parsed.errors);
  const config = parsed.ok ? { ...parsed.value, nodeName: parsed.value.nodeName === '-' ? '' : parsed.value.nodeName } : undefined;
  const needsNode = (command === 'plan' && files.length === 0) || command === 'explain-node';
  if (config && needsNode && !config.nodeName) errs.push(fieldError('NODE', 'Required', 'plan needs a node: kroute plan NODE (or --node-name)'));
  if (errs.length || !config) return { ok: false, errors: errs.map(formatFieldError) };
  return { ok: true, value: { command, name: name || (command === 'plan' ? config.nodeName : ''), output: output as CliArgs['output'], files, host, gatewaysDown, config } };
}
