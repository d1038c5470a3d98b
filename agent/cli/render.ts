/** The readable tables of `kroute plan` and `kroute explain` (`-o table`, the default). */
import type { NextHop } from '../../core/plan/index.js';
import type { NodePlanReport, ProposalNodeReport, Refusal, RouteChange, RuleChange } from './changes.js';
import type { NodeExplanation, PairExplanation, RouteExplanation } from './explain.js';

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n') + '\n';
}

function via(h: readonly NextHop[]): string {
  return h.map((x) => [x.gateway ? `via ${x.gateway}` : '', x.dev ? `dev ${x.dev}` : ''].filter(Boolean).join(' ')).join(', ');
}

function tableName(t: number): string {
  return t === 254 ? 'main' : String(t);
}

function routeRows(routes: readonly RouteChange[]): string[][] {
  return routes.map((c) => [
    c.action, c.dst, tableName(c.table),
    c.action === 'replace' ? `${via(c.before ?? [])} -> ${via(c.nexthops)}` : via(c.nexthops),
    c.action === 'remove' ? '(no longer planned)' : c.route ? `Route ${c.route}` : `kroute ${c.purpose ?? ''}`,
  ]);
}

function ruleRows(rules: readonly RuleChange[]): string[][] {
  return rules.map((r) => [r.action, String(r.priority), r.fwmark !== undefined ? `fwmark 0x${r.fwmark.toString(16)}` : `from ${r.src}`, `lookup ${r.table}`, `IPv${r.family}`]);
}

function refusedBlock(refused: readonly Refusal[]): string {
  if (!refused.length) return '';
  return `\nRefused:\n${table(['ROUTE', 'REASON', 'WHY'], refused.map((r) => [r.route || '(node)', r.reason, r.message]))}`;
}

/** `kroute plan` for one node. */
export function renderNodePlan(r: NodePlanReport): string {
  const labels = Object.entries(r.node.labels).map(([k, v]) => `${k}=${v}`).join(',') || '(none)';
  const src = r.host.source === 'local' ? 'this machine (kernel read)' : r.host.source === 'file' ? 'stand-in description' : 'none given (kernel not read: every route shows as added)';
  let out = `Node ${r.node.name}  labels ${labels}\nHost: ${src}\n`;
  const sysSet = r.changes.sysctls.filter((s) => s.action === 'set');
  const n = r.changes.routes.length + r.changes.rules.length + sysSet.length;
  out += n === 0 ? `\nNo kernel changes (${r.unchanged} routes and rules in place).\n` : `\n${n} change${n === 1 ? '' : 's'} (${r.unchanged} in place):\n`;
  if (r.changes.routes.length) out += `\nRoutes:\n${table(['ACTION', 'DESTINATION', 'TABLE', 'NEXT HOPS', 'FOR'], routeRows(r.changes.routes))}`;
  if (r.changes.rules.length) out += `\nRules:\n${table(['ACTION', 'PRIORITY', 'MATCH', 'TABLE', 'FAMILY'], ruleRows(r.changes.rules))}`;
  out += `\nSysctls:\n${table(['KEY', 'WANT', 'NOW', 'ACTION'], r.changes.sysctls.map((s) => [s.key, s.value, s.current ?? '?', s.action]))}`;
  if (r.probes.gateways.length) {
    out += `\nProbes: ICMP to ${r.probes.gateways.join(', ')}`;
    out += r.probes.forward.length ? `; forwarding probe ${r.probes.forward.map((f) => `${f.target} through ${f.gateway} (mark 0x${f.mark.toString(16)}, table ${f.table})`).join(', ')}\n` : '\n';
  }
  out += `\nRoutes on this node:\n${table(['ROUTE', 'STATE', 'REASON', 'MESSAGE'], r.outcomes.map((o) => [o.route, o.state, o.reason, o.message]))}`;
  out += refusedBlock(r.refused);
  return out;
}

/** `kroute plan -f` over the nodes it concerns. */
export function renderProposal(names: readonly string[], nodes: readonly ProposalNodeReport[]): string {
  let out = `Proposed: ${names.map((n) => `Route ${n}`).join(', ')}\n`;
  const touched = nodes.filter((n) => n.pending || n.outcomes.some((o) => o.state !== 'NotSelected'));
  if (!touched.length) out += '\nNo node is selected and nothing changes.\n';
  for (const n of touched) {
    out += `\nNode ${n.node.name}:\n`;
    out += n.changes.routes.length || n.changes.rules.length ? '' : '  no kernel changes\n';
    if (n.changes.routes.length) out += table(['ACTION', 'DESTINATION', 'TABLE', 'NEXT HOPS', 'FOR'], routeRows(n.changes.routes));
    if (n.changes.rules.length) out += table(['ACTION', 'PRIORITY', 'MATCH', 'TABLE', 'FAMILY'], ruleRows(n.changes.rules));
    out += `${n.changes.routes.length || n.changes.rules.length ? '\n' : ''}` + table(['ROUTE', 'STATE', 'REASON', 'MESSAGE'], [...n.outcomes, ...n.affected].map((o) => [o.route, o.state, o.reason, o.message]));
    out += refusedBlock(n.refused);
  }
  const skipped = nodes.length - touched.length;
  if (skipped) out += `\n${skipped} other node${skipped === 1 ? '' : 's'}: not selected, nothing changes.\n`;
  return out;
}

function pairRow(p: PairExplanation, first: 'node' | 'route'): string[] {
  const planned = p.planned ? `${p.planned.state}/${p.planned.reason}` : '-';
  const reported = p.reported ? `${p.reported.state}/${p.reported.reason ?? ''}${p.reported.stale ? ' (stale)' : ''}` : '-';
  return [first === 'node' ? p.node : p.route, p.selected ? 'yes' : 'no', planned, reported, p.reported?.activeGateways.join(',') || '-', p.reported?.since ?? '-'];
}

function details(p: PairExplanation, first: 'node' | 'route'): string {
  const who = first === 'node' ? p.node : p.route;
  const lines: string[] = [];
  if (!p.selected) {
    for (const m of p.misses) {
      const value = m.requirement ? (m.nodeValue === undefined ? ` (${m.requirement.key === 'metadata.name' ? 'name' : 'label'} absent)` : ` (node has ${JSON.stringify(m.nodeValue)})`) : '';
      lines.push(`  ${who}: ${m.field}: ${m.text}${value}`);
    }
    if (!p.misses.length) lines.push(`  ${who}: ${p.reason}`);
  } else lines.push(`  ${who}: ${p.reason}`);
  for (const c of p.planned?.conflicts ?? []) lines.push(`  ${who}: ${c.destination} is held by Route ${c.heldBy}`);
  if (p.planned && p.planned.state !== 'Applied' && !p.planned.conflicts.length) lines.push(`  ${who}: planned ${p.planned.state}: ${p.planned.message}`);
  if (p.reported?.message) lines.push(`  ${who}: reported: ${p.reported.message}`);
  if (p.selected && !p.reported) lines.push(`  ${who}: no status entry yet (is the agent running there?)`);
  return lines.join('\n');
}

/** `kroute explain route NAME`. */
export function renderRouteExplanation(e: RouteExplanation): string {
  let out = `Route ${e.route}${e.generation !== undefined ? ` (generation ${e.generation})` : ''}${e.deleting ? ' (being deleted)' : ''}\n`;
  if (!e.valid) out += `Invalid:\n${e.errors.map((x) => `  - ${x.field}: ${x.detail}${x.value !== undefined ? ` (${JSON.stringify(x.value)})` : ''}`).join('\n')}\n`;
  const sel = e.nodes.filter((n) => n.selected).length;
  out += `Selects ${sel} of ${e.nodes.length} node${e.nodes.length === 1 ? '' : 's'}.\n\n`;
  out += table(['NODE', 'SELECTED', 'PLANNED', 'REPORTED', 'ACTIVE GATEWAYS', 'SINCE'], e.nodes.map((p) => pairRow(p, 'node')));
  out += `\n${e.nodes.map((p) => details(p, 'node')).join('\n')}\n`;
  if (e.unknownNodes.length) out += `\nStatus entries of nodes that do not exist: ${e.unknownNodes.join(', ')}\n`;
  return out;
}

/** `kroute explain node NAME`. */
export function renderNodeExplanation(e: NodeExplanation): string {
  const labels = Object.entries(e.node.labels).map(([k, v]) => `${k}=${v}`).join(',') || '(none)';
  let out = `Node ${e.node.name}  labels ${labels}\n`;
  out += `Selected by ${e.routes.filter((r) => r.selected).length} of ${e.routes.length} Routes.\n\n`;
  out += table(['ROUTE', 'SELECTED', 'PLANNED', 'REPORTED', 'ACTIVE GATEWAYS', 'SINCE'], e.routes.map((p) => pairRow(p, 'route')));
  out += `\n${e.routes.map((p) => details(p, 'route')).join('\n')}\n`;
  if (e.problems.length) out += `\nProblems:\n${e.problems.map((p) => `  - ${p}`).join('\n')}\n`;
  return out;
}
