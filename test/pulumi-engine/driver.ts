/**
 * Runs one Pulumi operation with the Automation API in its own Node process (`node lib/test/pulumi-engine/driver.js
 * REQUEST.json`) and prints one JSON line with the outcome. Its own process because an inline program's late
 * failures travel as unhandled rejections, which Pulumi's language runtime collects and Jest would claim.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { LocalWorkspace, PulumiCommand, type EngineEvent, type LocalWorkspaceOptions, type Stack } from '@pulumi/pulumi/automation/index.js';
import { program, type ProgramSpec } from './program.js';

/** Where an engine environment lives (made by engine.ts). */
export interface EnvRef {
  readonly dir: string;
  readonly home: string;
  readonly backendUrl: string;
  readonly root: string;
  readonly envVars: Record<string, string>;
}

/** One operation. */
export interface DriverRequest {
  readonly env: EnvRef;
  readonly op: 'up' | 'preview' | 'refresh' | 'destroy';
  readonly stack: string;
  /** An inline TypeScript program (project `project`), or a YAML project in `workDir`. */
  readonly project: { readonly kind: 'inline'; readonly name: string; readonly workDir: string; readonly spec: ProgramSpec } | { readonly kind: 'yaml'; readonly workDir: string };
  readonly expectNoChanges?: boolean;
}

/** What a run reports. */
export interface DriverResult {
  readonly ok: boolean;
  /** The Automation API's error message (includes the CLI's stderr) when the run failed. */
  readonly error?: string;
  readonly ms: number;
  /** Resource operations by kind (`create`, `same`, `update`, `delete`, …), from the summary or preview. */
  readonly changes: Record<string, number>;
  readonly diagnostics: ReadonlyArray<{ severity: string; message: string; urn?: string }>;
  /** URNs of the resources whose step (create/update/delete/same) completed, by op. */
  readonly steps: ReadonlyArray<{ op: string; urn: string; type: string }>;
  readonly outputs: Record<string, unknown>;
  readonly stdout: string;
}

async function open(req: DriverRequest): Promise<Stack> {
  const command = await PulumiCommand.get({ root: req.env.root, skipVersionCheck: true });
  const ws: LocalWorkspaceOptions = { workDir: req.project.workDir, pulumiHome: req.env.home, envVars: req.env.envVars, pulumiCommand: command };
  if (req.project.kind === 'yaml') return LocalWorkspace.createOrSelectStack({ stackName: req.stack, workDir: req.project.workDir }, ws);
  const name = req.project.name;
  mkdirSync(req.project.workDir, { recursive: true });
  return LocalWorkspace.createOrSelectStack({ projectName: name, stackName: req.stack, program: program(req.project.spec) }, {
    ...ws,
    projectSettings: { name, runtime: 'nodejs', backend: { url: req.env.backendUrl } },
  });
}

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path) throw new Error('usage: driver.js REQUEST.json');
  const req = JSON.parse(readFileSync(path, 'utf8')) as DriverRequest;
  const diagnostics: Array<{ severity: string; message: string; urn?: string }> = [];
  const steps: Array<{ op: string; urn: string; type: string }> = [];
  let stdout = '';
  const onEvent = (e: EngineEvent): void => {
    const d = e.diagnosticEvent;
    if (d) diagnostics.push({ severity: d.severity, message: d.message, ...(d.urn ? { urn: d.urn } : {}) });
    const o = e.resOutputsEvent?.metadata;
    if (o) steps.push({ op: o.op, urn: o.urn, type: o.type });
  };
  const onOutput = (s: string): void => {
    stdout += s;
    process.stderr.write(s); // as it comes: what a killed run (engine.ts) shows of where it stopped
  };
  const started = Date.now();
  const stack = await open(req);
  let changes: Record<string, number> = {};
  let outputs: Record<string, unknown> = {};
  try {
    const common = { onEvent, onOutput, ...(req.expectNoChanges ? { expectNoChanges: true } : {}) };
    if (req.op === 'up') {
      const r = await stack.up(common);
      changes = { ...r.summary.resourceChanges };
      outputs = Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, v.value]));
    } else if (req.op === 'preview') {
      changes = { ...(await stack.preview(common)).changeSummary };
    } else if (req.op === 'refresh') {
      changes = { ...(await stack.refresh({ onEvent, onOutput })).summary.resourceChanges };
    } else {
      changes = { ...(await stack.destroy({ onEvent, onOutput })).summary.resourceChanges };
    }
    print({ ok: true, ms: Date.now() - started, changes, diagnostics, steps, outputs, stdout });
  } catch (e) {
    print({ ok: false, error: (e as Error).message, ms: Date.now() - started, changes, diagnostics, steps, outputs, stdout });
  }
}

function print(r: DriverResult): void {
  process.stdout.write(`\nKROUTE-DRIVER-RESULT ${JSON.stringify(r)}\n`);
}

await main();
