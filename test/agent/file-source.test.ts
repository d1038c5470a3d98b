/**
 * Bad input never costs routes (issue 12, case 6): the file source on real files. An alias bomb, an oversized file,
 * an unparseable or half-written file are reported problems and the last good content stays; a --routes path that
 * is missing at start sends nothing (so the reconciler withdraws nothing) until it appears.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSource, halfWritten, parseRouteFile } from '../../agent/file-source.js';
import { jsonLogger } from '../../agent/log.js';
import type { SourceSnapshot } from '../../agent/ports.js';
import { routeYaml } from './agent-process.js';

/** Four lines that expand to 10^9 nodes when aliases are resolved ("billion laughs"). */
const ALIAS_BOMB = [
  'a: &a ["x","x","x","x","x","x","x","x","x","x"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]',
].join('\n');

const GOOD = routeYaml('egress', ['192.0.2.0/24'], ['10.114.0.3']);

describe('file source: bad input never costs routes', () => {
  let dir: string;
  let logs: Record<string, unknown>[];
  let source: FileSource | undefined;
  const snapshots: SourceSnapshot[] = [];
  const log = () => jsonLogger('debug', (l) => void logs.push(JSON.parse(l) as Record<string, unknown>));

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kroute-filesource-'));
    logs = [];
    snapshots.length = 0;
  });
  afterEach(async () => {
    await source?.stop();
    source = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const start = async (path: string, maxFileBytes?: number) => {
    source = new FileSource({ path, nodeName: 'n', nodeLabels: [], log: log(), pollMs: 3_600_000, ...(maxFileBytes ? { maxFileBytes } : {}) });
    await source.start((s) => snapshots.push(s));
    return source;
  };
  const last = () => snapshots[snapshots.length - 1];

  it('parses an alias bomb into a problem instead of throwing', () => {
    const r = parseRouteFile(ALIAS_BOMB);
    expect(r).toEqual({ ok: false, message: expect.stringMatching(/alias/i) });
  });

  it.each([
    ['an alias bomb', ALIAS_BOMB, /alias/i],
    ['unparseable YAML', 'spec: [unclosed', /does not parse as YAML/],
    ['a file cut in the middle of a Route', GOOD.split('gateways')[0], /not a valid Route any more/],
    ['a file that became empty', '', /is empty now/],
  ])('%s after good content: reported, and the last good Routes stay', async (_what, bad, problem) => {
    const file = join(dir, 'routes.yaml');
    writeFileSync(file, GOOD);
    const s = await start(dir);
    expect(last().routes.map((r) => r.name)).toEqual(['egress']);
    writeFileSync(file, bad);
    await s.reload();
    // A full read as fs.watch would trigger, in case the stat did not move within the same millisecond.
    (s as unknown as { full: boolean }).full = true;
    await s.reload();
    expect(last().routes.map((r) => r.name)).toEqual(['egress']);
    expect(last().problems).toEqual([{ subject: file, message: expect.stringMatching(problem) }]);
    expect(last().problems[0].message).toMatch(/keeping its last good content/);
  });

  it('refuses a file over the size cap without reading it, and keeps its last good content', async () => {
    const file = join(dir, 'routes.yaml');
    writeFileSync(file, GOOD);
    const s = await start(dir, 4096);
    writeFileSync(file, GOOD + `# ${'x'.repeat(5000)}\n`);
    (s as unknown as { full: boolean }).full = true;
    await s.reload();
    expect(last().routes.map((r) => r.name)).toEqual(['egress']);
    expect(last().problems[0].message).toMatch(/is 5\d{3} bytes; files over 4096 bytes are not read/);
  });

  it('a missing --routes path at start sends nothing (withdraws nothing), says so once, and is read when it appears', async () => {
    const path = join(dir, 'not-yet');
    const s = await start(path);
    await s.reload();
    expect(snapshots).toEqual([]);
    expect(s.synced).toBe(false);
    expect(logs.filter((l) => l.msg === 'the routes path cannot be read; nothing is applied or withdrawn until it can')).toHaveLength(1);
    writeFileSync(path, GOOD);
    await s.reload();
    expect(last().routes.map((r) => r.name)).toEqual(['egress']);
    expect(s.synced).toBe(true);
  });

  it('an empty folder at start is "no Routes" (that is not a problem)', async () => {
    const s = await start(dir);
    expect(last()).toMatchObject({ routes: [], problems: [] });
    expect(s.synced).toBe(true);
  });

  it('a file that was never good passes its invalid Routes through (the planner reports them Invalid)', () => {
    expect(halfWritten([{ kind: 'Route' }], undefined)).toBeUndefined();
    expect(halfWritten([], [{}])).toBe('is empty now');
  });
});
