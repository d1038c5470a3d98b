/**
 * Runs one `kroute` command: gathers Routes and nodes (the cluster, read-only, or files through the agent's own
 * file source), host facts (this machine's, a stand-in, or none), plans with the core's planner and renders.
 */
import { readFile, stat } from 'node:fs/promises';
import { parse } from 'yaml';
import { formatFieldError, type AgentConfig, type NodeFacts } from '../../core/index.js';
import { planConfigOf, type HostFacts, type PlanInput } from '../../core/plan/index.js';
import { FileSource, parseNodeLabels } from '../file-source.js';
import { readRoute } from '../kube/objects.js';
import { silentLogger } from '../log.js';
import type { CliArgs } from './args.js';
import { nodePlan, proposalPlan, type NodePlanReport, type ProposalNodeReport } from './changes.js';
import type { ClusterReader } from './cluster.js';
import { explainNode, explainRoute, reportedHealth, type ClusterRoute } from './explain.js';
import { noHost, parseHostFacts } from './host-file.js';
import { readLocal, type LocalFacts } from './local.js';
import { renderNodeExplanation, renderNodePlan, renderProposal, renderRouteExplanation } from './render.js';

/** What a command prints and its exit code. */
export interface CliResult {
  readonly output: string;
  readonly code: number;
  /** The error printed on stderr (code 1). */
  readonly error?: string;
}

/** A usage or input problem: exit code 1 with this message. */
export class CliError extends Error {}

/** Routes from a file or folder, read once by the agent's file source (same names, same problems). */
export async function readRouteFiles(path: string): Promise<{ routes: ClusterRoute[]; problems: string[] }> {
  await stat(path).catch((e: Error) => {
    throw new CliError(`${path}: ${e.message}`);
  });
  const source = new FileSource({ path, nodeName: '', nodeLabels: [], log: silentLogger, pollMs: 3_600_000 });
  let routes: ClusterRoute[] = [];
  let problems: string[] = [];
  await source.start((s) => {
    routes = s.routes.map((r) => ({ ...r, reported: readRoute(r.object)?.status?.nodes ?? [] }));
    problems = s.problems.map((p) => `${p.subject}: ${p.message}`);
  });
  await source.stop();
  return { routes, problems };
}

/** Where Routes and nodes come from. */
interface World {
  readonly routes: ClusterRoute[];
  readonly problems: string[];
  node(name: string): Promise<NodeFacts>;
  nodes(): Promise<NodeFacts[]>;
  controlPlaneAddresses(): Promise<string[]>;
}

async function world(config: AgentConfig): Promise<World> {
  if (config.routes) {
    const { routes, problems } = await readRouteFiles(config.routes);
    routes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const self: NodeFacts = { name: config.nodeName, labels: parseNodeLabels(config.nodeLabels) };
    return {
      routes,
      problems,
      async node(name) {
        if (name !== self.name) throw new CliError(`offline, the only node is --node-name ${JSON.stringify(self.name)}, not ${JSON.stringify(name)}`);
        return self;
      },
      nodes: async () => (self.name ? [self] : []),
      controlPlaneAddresses: async () => [],
    };
  }
  // The Kubernetes client is loaded only against a cluster, as in the agent.
  const { ClusterReader: Reader, cliKubeConfig } = await import('./cluster.js');
  let reader: ClusterReader;
  try {
    reader = new Reader(cliKubeConfig(config.kubeconfig));
  } catch (e) {
    throw new CliError(`cannot load a kubeconfig: ${(e as Error).message}; offline, give --routes FILE|DIR --node-name N`);
  }
  const routes = await reader.routes();
  return { routes, problems: [], node: (n) => reader.node(n), nodes: () => reader.nodes(), controlPlaneAddresses: () => reader.controlPlaneAddresses() };
}

/** Host facts per `--host`: this machine's (with its kernel and sysctls), a stand-in description, or none. */
async function hostFacts(args: CliArgs, extra: { controlPlaneAddresses: readonly string[]; keepAddresses: readonly string[] }): Promise<{ host: HostFacts; local?: LocalFacts; source: NodePlanReport['host']['source'] }> {
  if (args.host === 'none') return { host: noHost(extra), source: 'none' };
  if (args.host === 'local') {
    const local = await readLocal(args.config, extra);
    return { host: local.host, local, source: 'local' };
  }
  const text = /^\s*[{]/.test(args.host) ? args.host : await readFile(args.host, 'utf8').catch((e: Error) => {
    throw new CliError(`--host: ${JSON.stringify(args.host)} is not local, none, inline YAML/JSON or a readable file (${e.message})`);
  });
  let value: unknown;
  try {
    value = parse(text);
  } catch (e) {
    throw new CliError(`--host ${args.host}: does not parse as YAML or JSON: ${(e as Error).message}`);
  }
  const r = parseHostFacts(value, extra);
  if (!r.ok) throw new CliError(`--host ${args.host} is invalid:\n  - ${r.errors.map(formatFieldError).join('\n  - ')}`);
  return { host: r.value, source: 'file' };
}

function planInput(args: CliArgs, w: World, node: NodeFacts, host: HostFacts): PlanInput {
  const health = reportedHealth(w.routes, node.name);
  return {
    routes: w.routes.map((r) => ({ name: r.name, object: r.object, deleting: r.deleting, ...(r.generation !== undefined ? { generation: r.generation } : {}) })),
    node,
    host,
    gatewaysDown: new Set([...health.gatewaysDown, ...args.gatewaysDown]),
    overridesRolledBack: health.overridesRolledBack,
    config: planConfigOf(args.config),
  };
}

const json = (v: unknown): string => JSON.stringify(v, null, 2) + '\n';

async function extraAddresses(args: CliArgs, w: World): Promise<{ controlPlaneAddresses: string[]; keepAddresses: string[] }> {
  const discovered = await w.controlPlaneAddresses();
  return { controlPlaneAddresses: [...new Set([...args.config.controlPlaneAddresses, ...discovered])], keepAddresses: [...args.config.keepAddresses] };
}

async function plan(args: CliArgs): Promise<CliResult> {
  const w = await world(args.config);
  const extra = await extraAddresses(args, w);
  if (args.host === 'local' && !args.name) throw new CliError('--host local describes this machine: name its node (kroute plan NODE)');
  const facts = await hostFacts(args, extra);
  if (args.files.length === 0) {
    const node = await w.node(args.name);
    const base = nodePlan(planInput(args, w, node, facts.host), { ...(facts.local ? { kernel: facts.local.kernel, sysctls: facts.local.sysctls } : {}), source: facts.source });
    const report: NodePlanReport = { ...base, problems: [...w.problems, ...base.problems], pending: base.pending || w.problems.length > 0 };
    return { output: args.output === 'json' ? json(report) : renderNodePlan(report), code: report.pending ? 2 : 0 };
  }
  const proposed: { name: string; object: unknown }[] = [];
  const problems: string[] = [];
  for (const f of args.files) {
    const r = await readRouteFiles(f);
    proposed.push(...r.routes.map((x) => ({ name: x.name, object: x.object })));
    problems.push(...r.problems);
  }
  if (!proposed.length) throw new CliError(`-f ${args.files.join(', ')}: no Route found${problems.length ? ` (${problems.join('; ')})` : ''}`);
  const nodes = args.name ? [await w.node(args.name)] : await w.nodes();
  const reports: ProposalNodeReport[] = nodes
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((n) => proposalPlan(planInput(args, w, n, facts.host), proposed));
  const names = proposed.map((p) => p.name);
  const pending = reports.some((r) => r.pending) || problems.length > 0;
  const out = { kind: 'ProposalPlan', proposed: names, host: { source: facts.source }, nodes: reports, problems, pending };
  return { output: args.output === 'json' ? json(out) : renderProposal(names, reports) + (problems.length ? `\nProblems:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` : ''), code: pending ? 2 : 0 };
}

async function explain(args: CliArgs): Promise<CliResult> {
  const w = await world(args.config);
  const extra = await extraAddresses(args, w);
  if (args.host === 'local') throw new CliError('explain plans with the cluster\'s view of every node: --host local does not apply');
  const facts = await hostFacts(args, extra);
  const ctx = { config: planConfigOf(args.config), host: () => facts.host, health: (n: string) => reportedHealth(w.routes, n), hostKnown: facts.source !== 'none' };
  if (args.command === 'explain-route') {
    const e = explainRoute(args.name, w.routes, await w.nodes(), ctx);
    if (!e) throw new CliError(`no Route named ${JSON.stringify(args.name)}${w.routes.length ? ` (there are: ${w.routes.map((r) => r.name).join(', ')})` : ''}`);
    return { output: args.output === 'json' ? json(e) : renderRouteExplanation(e), code: e.ok ? 0 : 2 };
  }
  const e = explainNode(await w.node(args.name), w.routes, ctx);
  return { output: args.output === 'json' ? json(e) : renderNodeExplanation(e), code: e.ok ? 0 : 2 };
}

/** Runs a parsed command; a CliError (or any failure to read) prints its message and exits 1. */
export async function runCli(args: CliArgs): Promise<CliResult> {
  try {
    return args.command === 'plan' ? await plan(args) : await explain(args);
  } catch (e) {
    return { output: '', code: 1, error: (e as Error).message };
  }
}
