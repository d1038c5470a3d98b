/**
 * Routes from a YAML file or a folder of them (`--routes`), for debugging and tests, and the node from
 * `--node-name`/`--node-labels`. Watched with fs.watch plus a poll (fs.watch misses ConfigMap symlink swaps on some
 * filesystems). A file that does not parse is a problem, never a crash, and its last good content stays in force: a
 * half-written file must not withdraw routes. So are a file over `maxFileBytes`, a YAML alias bomb (the parser's alias
 * limit), a file that became empty, and a file whose Routes no longer all validate while its last good content did.
 * A `--routes` path missing at start sends nothing (the reconciler then withdraws nothing) until it appears.
 *
 * Change detection is cheap because the poll runs forever: a poll only stats the files, and reads one again only when
 * its inode, size, mtime or ctime moved (a ConfigMap swap changes the inode). A read whose text hashes the same as
 * before is not parsed again, and nothing is sent to the reconciler when no file changed. An fs.watch event reads
 * every file (the hash still skips the parse), so a rewrite the stat cannot see is caught there.
 */
import { watch, type FSWatcher } from 'node:fs';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { validateRoute, type NodeFacts } from '../core/index.js';
import type { Logger } from './log.js';
import type { RouteSource, SourceSnapshot, SourcedRoute } from './ports.js';

/** Options of the file source. */
export interface FileSourceProps {
  /** A YAML file, or a folder whose *.yaml, *.yml and *.json files are read in name order. */
  readonly path: string;
  readonly nodeName: string;
  /** `key=value` items (`key` alone means an empty value). */
  readonly nodeLabels: readonly string[];
  readonly log: Logger;
  /** Poll period. @default 2000 */
  readonly pollMs?: number;
  /** Larger files are a problem and are not read. @default 4 MiB */
  readonly maxFileBytes?: number;
}

/** Default cap on one routes file: 10,000 Routes in YAML take about 2 MB. */
export const MAX_ROUTE_FILE_BYTES = 4 * 1024 * 1024;
/** Aliases one YAML text may resolve (the yaml package's default; an alias bomb needs far more). */
const MAX_ALIASES = 100;

/** Node labels from `key=value` items. */
export function parseNodeLabels(items: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf('=');
    if (eq < 0) out[item] = '';
    else out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

type Obj = Record<string, unknown>;

/** A failed fs call as a value. (`instanceof Error` is not used: fs errors can come from another realm, as in Jest.) */
interface Failure {
  readonly failure: string;
}
const attempt = <T>(p: Promise<T>): Promise<T | Failure> => p.catch((e: unknown) => ({ failure: (e as { message?: string }).message ?? String(e) }));
const failed = (v: unknown): v is Failure => typeof v === 'object' && v !== null && 'failure' in v;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What a poll compares to tell whether a file may have changed without reading it. */
function statKey(s: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${s.ino} ${s.size} ${s.mtimeMs} ${s.ctimeMs}`;
}

/** One file as last read: its stat key, the hash of its text, and its outcome. */
interface FileState {
  readonly statKey: string;
  readonly hash: string;
  /** The read or parse problem of that text, when it had one. */
  readonly problem?: string;
}

/** The objects of one YAML text (documents, and the items of `kind: List`), or the parse errors. Never throws. */
export function parseRouteFile(text: string): { ok: true; objects: unknown[] } | { ok: false; message: string } {
  try {
    const docs = parseAllDocuments(text);
    const list = Array.isArray(docs) ? docs : [docs];
    const errors = list.flatMap((d) => d.errors.map((e) => e.message));
    if (errors.length) return { ok: false, message: errors.join('; ') };
    const objects: unknown[] = [];
    for (const d of list) {
      // toJS resolves aliases: a few lines can expand to billions of nodes ("billion laughs"); the limit refuses it.
      const v: unknown = d.toJS({ maxAliasCount: MAX_ALIASES });
      if (v === null || v === undefined) continue;
      if (isObj(v) && v.kind === 'List' && Array.isArray(v.items)) objects.push(...(v.items as unknown[]));
      else objects.push(v);
    }
    return { ok: true, objects };
  } catch (e) {
    return { ok: false, message: (e as Error).message };
  }
}

/** Why newly read objects look like a half-written file next to the last good ones, or undefined when they do not. */
export function halfWritten(objects: readonly unknown[], lastGood: readonly unknown[] | undefined): string | undefined {
  if (!lastGood?.length) return undefined;
  if (objects.length === 0) return 'is empty now';
  const lastValid = lastGood.every((o) => validateRoute(o).ok);
  // A cut write loses the end of the file: only the last object can be cut, and what it lacks are fields. A Route
  // with a bad value anywhere else is the author's mistake: the planner reports it Invalid and its siblings apply.
  const last = objects.length - 1;
  const r = validateRoute(objects[last]);
  const cut = !r.ok && r.errors.every((e) => e.code === 'Required');
  if (lastValid && cut) return `object ${last} is not a valid Route any more (a file cut while being written looks like this)`;
  return undefined;
}

/** A RouteSource over files. */
export class FileSource implements RouteSource {
  synced = false;
  readonly connected = true;
  private readonly lastGood = new Map<string, unknown[]>();
  private readonly fileStates = new Map<string, FileState>();
  private lastFiles = '';
  /** True when the next read must look at the text of every file (an fs.watch event). */
  private full = true;
  private watcher?: FSWatcher;
  private poll?: NodeJS.Timeout;
  private debounce?: NodeJS.Timeout;
  private lastKey = '';
  private reading = false;
  private again = false;
  private stopped = false;
  private onChange: (s: SourceSnapshot) => void = () => undefined;
  private readonly node: NodeFacts;

  constructor(private readonly props: FileSourceProps) {
    this.node = { name: props.nodeName, labels: parseNodeLabels(props.nodeLabels) };
  }

  async start(onChange: (snapshot: SourceSnapshot) => void): Promise<void> {
    this.onChange = onChange;
    await this.reload();
    const isDir = await stat(this.props.path).then((s) => s.isDirectory(), () => false);
    const watched = isDir ? this.props.path : dirname(this.props.path);
    try {
      this.watcher = watch(watched, () => this.kick(true));
      this.watcher.on('error', (e) => this.props.log.warn('watching the routes path failed; polling only', { path: watched, error: e }));
    } catch (e) {
      this.props.log.warn('cannot watch the routes path; polling only', { path: watched, error: e as Error });
    }
    this.poll = setInterval(() => this.kick(false), this.props.pollMs ?? 2000);
  }

  private kick(full: boolean): void {
    if (this.stopped) return;
    if (full) this.full = true;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.reload(), 50);
  }

  private async files(): Promise<{ files: string[]; problem?: string }> {
    const path = this.props.path;
    const s = await attempt(stat(path));
    if (failed(s)) return { files: [...this.lastGood.keys()], problem: `${path}: ${s.failure}` };
    if (!s.isDirectory()) return { files: [path] };
    const names = (await readdir(path)).filter((n) => !n.startsWith('.') && /\.(ya?ml|json)$/.test(n)).sort();
    return { files: names.map((n) => join(path, n)) };
  }

  /** Reads everything once and emits a snapshot when it changed. */
  async reload(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    try {
      do {
        this.again = false;
        const full = this.full;
        this.full = false;
        const snapshot = await this.read(full);
        if (this.missingAtStart(snapshot)) continue;
        this.synced = true;
        if (!snapshot) continue;
        const key = JSON.stringify(snapshot);
        if (key !== this.lastKey && !this.stopped) {
          this.lastKey = key;
          this.onChange(snapshot);
        }
      } while (this.again && !this.stopped);
    } finally {
      this.reading = false;
    }
  }

  private warnedMissing = false;

  /**
   * True while the path has never been read and is missing: nothing is sent, so the reconciler withdraws nothing
   * (a typo in --routes, or a volume not mounted yet, must not look like "no Routes").
   */
  private missingAtStart(snapshot: SourceSnapshot | undefined): boolean {
    if (this.synced || !snapshot) return false;
    const missing = snapshot.problems.find((p) => p.subject === this.props.path);
    if (!missing || this.lastGood.size > 0) return false;
    if (!this.warnedMissing) {
      this.warnedMissing = true;
      this.props.log.warn('the routes path cannot be read; nothing is applied or withdrawn until it can', { path: this.props.path, problem: missing.message });
    }
    return true;
  }

  /**
   * Reads what changed and returns the snapshot, or undefined when no file changed since the last read (a poll
   * of unchanged files costs a readdir and one stat per file).
   */
  private async read(full: boolean): Promise<SourceSnapshot | undefined> {
    const problems: { subject: string; message: string }[] = [];
    const { files, problem } = await this.files();
    if (problem) problems.push({ subject: this.props.path, message: problem });
    const current = new Set(files);
    for (const f of [...this.lastGood.keys()]) if (!current.has(f) && !problem) this.lastGood.delete(f);
    for (const f of [...this.fileStates.keys()]) if (!current.has(f)) this.fileStates.delete(f);
    let changed = full || problem !== undefined || files.join('\n') !== this.lastFiles;
    this.lastFiles = files.join('\n');
    for (const file of files) {
      const before = this.fileStates.get(file);
      const s = await attempt(stat(file));
      const sk = failed(s) ? `error ${s.failure}` : statKey(s);
      if (!full && before && before.statKey === sk) continue;
      const max = this.props.maxFileBytes ?? MAX_ROUTE_FILE_BYTES;
      if (!failed(s) && s.size > max) {
        this.fileStates.set(file, { statKey: sk, hash: '', problem: `is ${s.size} bytes; files over ${max} bytes are not read` });
        changed = true;
        continue;
      }
      const text = failed(s) ? s : await attempt(readFile(file, 'utf8'));
      if (failed(text)) {
        this.fileStates.set(file, { statKey: sk, hash: '', problem: text.failure });
        changed = true;
        continue;
      }
      const hash = createHash('sha1').update(text).digest('base64');
      if (before && before.hash === hash) {
        this.fileStates.set(file, { ...before, statKey: sk });
        continue;
      }
      changed = true;
      const parsed = parseRouteFile(text);
      const half = parsed.ok ? halfWritten(parsed.objects, this.lastGood.get(file)) : undefined;
      if (half) {
        this.fileStates.set(file, { statKey: sk, hash, problem: `${half}; remove the file to withdraw its Routes` });
      } else if (parsed.ok) {
        this.lastGood.set(file, parsed.objects);
        this.fileStates.set(file, { statKey: sk, hash });
      } else {
        this.fileStates.set(file, { statKey: sk, hash, problem: `does not parse as YAML: ${parsed.message}` });
      }
    }
    if (!changed) return undefined;
    const routes: SourcedRoute[] = [];
    const seen = new Map<string, string>();
    for (const file of files) {
      const objects = this.lastGood.get(file);
      const fileProblem = this.fileStates.get(file)?.problem;
      if (fileProblem !== undefined && !problem) problems.push({ subject: file, message: `${fileProblem}${objects ? ' (keeping its last good content)' : ''}` });
      (objects ?? []).forEach((object, i) => {
        const meta = isObj(object) && isObj(object.metadata) ? object.metadata : undefined;
        const name = typeof meta?.name === 'string' && meta.name !== '' ? meta.name : `${basename(file)}[${i}]`;
        const first = seen.get(name);
        if (first !== undefined) {
          problems.push({ subject: `${file}[${i}]`, message: `a Route named ${JSON.stringify(name)} is already defined in ${first}; this one is ignored` });
          return;
        }
        seen.set(name, `${file}[${i}]`);
        const generation = typeof meta?.generation === 'number' ? meta.generation : undefined;
        routes.push({ name, object, deleting: false, ...(generation !== undefined ? { generation } : {}) });
      });
    }
    return { routes, node: this.node, problems };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
  }
}
