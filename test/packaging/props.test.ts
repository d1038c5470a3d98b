/**
 * The flat props both faces share (core/face-props.ts) against the core's option table (core/options.ts): one
 * `AgentSettings` field per DaemonSet-safe option, of the option's type, with the option's default in its TSDoc
 * (Pulumi's schema and jsii's docs carry that text to every language). A new option in the table fails here until
 * it gets a field or joins PER_NODE_OPTIONS.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Chart, Testing } from 'cdk8s';
import ts from 'typescript';
import { RoutingAgent, ValidationError } from '../../constructs/index.js';
import { AGENT_OPTIONS, DAEMONSET_OPTION_DEFAULTS, type AgentOptionName } from '../../core/index.js';
import { AgentLogLevel, OverrideFailMode, PER_NODE_OPTIONS, StatusReportsMode, resolveAgentManifestArgs, type AgentSettings } from '../../core/face-props.js';
import { ROOT } from './consumers.js';

type Safe = Exclude<AgentOptionName, (typeof PER_NODE_OPTIONS)[number]>;
/** Compile-time half (npm run lint): the field names are exactly the safe options. */
const sameKeys: [keyof AgentSettings] extends [Safe] ? ([Safe] extends [keyof AgentSettings] ? true : false) : false = true;

interface Field {
  readonly type: string;
  readonly default: string | undefined;
}

/** AgentSettings' fields as declared: type text and @default text. */
function declaredFields(): Map<string, Field> {
  const file = join(ROOT, 'core', 'face-props.ts');
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out = new Map<string, Field>();
  src.forEachChild((node) => {
    if (!ts.isInterfaceDeclaration(node) || node.name.text !== 'AgentSettings') return;
    for (const m of node.members) {
      if (!ts.isPropertySignature(m) || !m.type) continue;
      const tag = ts.getJSDocTags(m).find((t) => t.tagName.text === 'default');
      const text = typeof tag?.comment === 'string' ? tag.comment.trim() : undefined;
      out.set(m.name.getText(src), { type: m.type.getText(src), default: text });
    }
  });
  return out;
}

const ENUMS: Record<string, Record<string, string>> = { OverrideFailMode, AgentLogLevel, StatusReportsMode };

describe('flat agent props (cdk8s RoutingAgentProps.agent = Pulumi RoutingAgentArgs.agent)', () => {
  const fields = declaredFields();
  const safe = Object.keys(AGENT_OPTIONS).filter((k) => !(PER_NODE_OPTIONS as readonly string[]).includes(k));

  it('has one field per DaemonSet-safe option of the core\'s table, and none for the per-node ones', () => {
    expect(sameKeys).toBe(true);
    expect([...fields.keys()].sort()).toEqual(safe.sort());
    for (const k of PER_NODE_OPTIONS) expect(AGENT_OPTIONS).toHaveProperty(k);
  });

  it.each(Object.entries(AGENT_OPTIONS).filter(([k]) => fields.has(k)))('types %s as the table does, with its default', (k, o) => {
    const f = fields.get(k) as Field;
    const expectedType = { integer: 'number', number: 'number', string: 'string', boolean: 'boolean', list: 'string[]', enum: f.type }[o.kind];
    expect(f.type).toBe(expectedType);
    if (o.kind === 'enum') expect(Object.values(ENUMS[f.type] ?? {}).sort()).toEqual([...(o as { values: readonly string[] }).values].sort());
    // The props document what a DaemonSet runs: its own defaults where they differ from the agent's.
    expect(f.default).toBe(JSON.stringify((DAEMONSET_OPTION_DEFAULTS as Record<string, unknown>)[k] ?? o.default));
  });

  it('refuses a per-node option given anyway (JavaScript, no types), naming the field', () => {
    const r = resolveAgentManifestArgs({ agent: { nodeName: 'n1', probeIntervalSeconds: 5 } as AgentSettings }, 'props');
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.errors.map((e) => [e.field, e.code])).toEqual([['props.agent.nodeName', 'Forbidden']]);
    const chart = new Chart(Testing.app(), 'c');
    expect(() => new RoutingAgent(chart, 'agent', { agent: { nodeName: 'n1' } as AgentSettings })).toThrow(ValidationError);
    expect(() => new RoutingAgent(chart, 'agent2', { agent: { kubeconfig: '/k' } as AgentSettings })).toThrow(
      /props\.agent\.kubeconfig: is set by the DaemonSet on each node \(--kubeconfig\)/,
    );
  });

  it('renders every safe field into the DaemonSet args', () => {
    const chart = new Chart(Testing.app(), 'c');
    new RoutingAgent(chart, 'agent', { agent: { routeProtocol: 150, resyncSeconds: 120, bindAddress: '0.0.0.0', logLevel: AgentLogLevel.DEBUG } });
    const ds = Testing.synth(chart).find((o: { kind: string }) => o.kind === 'DaemonSet');
    expect(ds.spec.template.spec.containers[0].args).toEqual(
      expect.arrayContaining(['--route-protocol=150', '--resync-seconds=120', '--bind-address=0.0.0.0', '--log-level=debug']),
    );
  });
});
