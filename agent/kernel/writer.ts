/**
 * A long-lived `ip -force -batch -` coprocess: the kernel adapter's writer. One process start per agent instead of
 * one per apply (a process start is ~2.6 ms, a route through the running coprocess ~0.1 ms; NOTES-agent-performance.md).
 *
 * Each batch is followed by a marker command that always fails (`link show dev kr/marker`: no interface can have
 * that name); `ip` runs its input line by line, so the marker's `Command failed -:N` on stderr completes the batch,
 * and every `Error: ...` / `Command failed -:N` line of the batch came before it on the same stream. No shell joins
 * the streams: the image has none. N counts every line the coprocess has read since it started, markers included.
 *
 * Interrupted writes never leave a half-written route: `ip` executes a last line even without its newline, so only
 * whole lines are ever written, in chunks of at most PIPE_BUF (4096) bytes, one chunk in flight at a time. A pipe
 * write of at most PIPE_BUF bytes is atomic (POSIX), so if the agent dies (OOM kill, SIGKILL) the coprocess reads
 * whole lines and then end of input, never the start of a line.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

/** POSIX PIPE_BUF on Linux: writes up to this size to a pipe are atomic. */
export const PIPE_BUF = 4096;
/** A command that always fails (`/` is not allowed in an interface name) and changes nothing. */
const MARKER = 'link show dev kr/marker';
const FAILED = /^Command failed -:(\d+)/;

/** Options of {@link IpBatchWriter}. */
export interface IpBatchWriterProps {
  /** Global options before `-force -batch -` (e.g. `-n NS`, `-6`). */
  readonly globalArgs?: readonly string[];
  /** @default 'ip' */
  readonly ipCommand?: string;
  /** A batch not completed in this time fails and the coprocess is restarted. @default 30000 */
  readonly timeoutMs?: number;
}

/** What one batch did: per line (1-based within the batch) the kernel's error, if any. */
export interface BatchResult {
  readonly errors: ReadonlyMap<number, string>;
  /** Set when the whole batch failed (the coprocess died or timed out): which lines ran is unknown. */
  readonly failed?: string;
}

interface Pending {
  readonly firstLine: number;
  /** Lines of the batch; infinite while they are still being written. */
  lines: number;
  readonly errors: Map<number, string>;
  readonly resolve: (r: BatchResult) => void;
  readonly timer: NodeJS.Timeout;
}

/** The coprocess; batches run one at a time, in order. */
export class IpBatchWriter {
  private child?: ChildProcessWithoutNullStreams;
  /** Lines the current coprocess has been sent. */
  private sent = 0;
  private pending?: Pending;
  private errorText: string[] = [];
  /** `Error: ...` lines seen since the last `Command failed` line. */
  private errorLines: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  /** Batches queued or running. */
  private queued = 0;
  private closed = false;
  /** Coprocesses started so far (1 in a healthy agent). */
  starts = 0;

  constructor(private readonly props: IpBatchWriterProps = {}) {}

  /** The coprocess's pid while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the coprocess now, so the first batch does not pay for its start (the adapter calls it while reading). */
  warm(): void {
    if (!this.closed) this.ensure();
  }

  /**
   * Runs `lines` (no newlines inside) and resolves once the kernel has done every one. `lines` may be produced
   * lazily: each chunk goes to the coprocess as soon as it is full, so rendering overlaps the kernel's work.
   */
  write(lines: Iterable<string>): Promise<BatchResult> {
    // Idle (no batch queued or running): the first chunk goes to the coprocess before this returns, not a microtask
    // later. Otherwise behind the batches before it, in order.
    const run = this.queued === 0 ? this.run(lines) : this.queue.then(() => this.run(lines));
    this.queued++;
    const settled = run.catch(() => undefined).then(() => {
      this.queued--;
    });
    this.queue = settled;
    return run;
  }

  private ensure(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    const ip = this.props.ipCommand ?? 'ip';
    const child = spawn(ip, [...(this.props.globalArgs ?? []), '-force', '-batch', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.starts++;
    this.child = child;
    this.sent = 0;
    child.stdin.on('error', () => undefined);
    // Writes print nothing on stdout; errors and the marker come on stderr, in input order.
    child.stdout.resume();
    createInterface({ input: child.stderr }).on('line', (line) => this.line(line));
    child.on('close', (code, signal) => {
      if (this.child === child) this.child = undefined;
      this.finish({ errors: new Map(), failed: `the ip coprocess exited (${signal ?? code}) ${this.errorText.join(' ').trim()}`.trim() });
    });
    child.on('error', (e) => {
      if (this.child === child) this.child = undefined;
      this.finish({ errors: new Map(), failed: `the ip coprocess failed: ${e.message}` });
    });
    return child;
  }

  private line(line: string): void {
    this.errorText = [...this.errorText.slice(-9), line];
    const p = this.pending;
    const m = FAILED.exec(line.trim());
    if (m) {
      const n = Number(m[1]);
      if (p && n === p.firstLine + p.lines) this.finish({ errors: p.errors }); // the marker: the batch is done
      else if (p && n >= p.firstLine && n < p.firstLine + p.lines) p.errors.set(n - p.firstLine + 1, this.errorLines.join(' ').trim() || 'failed');
      this.errorLines = [];
    } else if (line.trim() !== '') this.errorLines.push(line.trim());
  }

  private finish(r: BatchResult): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    this.errorLines = [];
    p.resolve(r.failed ? r : { errors: p.errors });
  }

  private async run(lines: Iterable<string>): Promise<BatchResult> {
    if (this.closed) return { errors: new Map(), failed: 'the writer is closed' };
    const it = lines[Symbol.iterator]();
    let next = it.next();
    if (next.done) return { errors: new Map() };
    const child = this.ensure();
    const firstLine = this.sent + 1;
    const timeoutMs = this.props.timeoutMs ?? 30_000;
    /** The batch's line count, known once every line is out (until then any error line belongs to it). */
    let count = 0;
    const done = new Promise<BatchResult>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        this.finish({ errors: new Map(), failed: `the ip coprocess did not finish a batch of ${count} lines within ${timeoutMs} ms` });
      }, timeoutMs);
      this.pending = { firstLine, lines: Number.POSITIVE_INFINITY, errors: new Map(), resolve, timer };
    });
    const pending = this.pending;
    // One chunk in flight at a time, so each is one write(2) of at most PIPE_BUF bytes (atomic): Node hands chunks
    // buffered behind a pending write to writev(2) together, which a kill could cut anywhere. A chunk the pipe
    // took at once (nothing left buffered) needs no wait; one that waits is the only one in flight.
    const send = async (chunk: string): Promise<boolean> => {
      if (this.child !== child || this.pending !== pending) return false;
      const written = new Promise<void>((resolve) => child.stdin.write(chunk, () => resolve()));
      if (child.stdin.writableLength > 0) await written;
      return true;
    };
    let cur = '';
    let curBytes = 0;
    let open = true;
    for (; !next.done && open; next = it.next()) {
      const text = `${next.value}\n`;
      const bytes = Buffer.byteLength(text);
      if (curBytes > 0 && curBytes + bytes > PIPE_BUF) {
        open = await send(cur);
        cur = '';
        curBytes = 0;
      }
      cur += text;
      curBytes += bytes;
      count++;
    }
    if (!open) {
      // The coprocess went away mid-batch (its close already failed the batch): nothing more is written.
      this.sent += count;
      return done;
    }
    this.sent += count + 1;
    if (pending) pending.lines = count;
    const marker = `${MARKER}\n`;
    if (curBytes + marker.length > PIPE_BUF) {
      if (await send(cur)) await send(marker);
    } else await send(cur + marker);
    return done;
  }

  /** Lets the coprocess finish what it was sent (whole lines only) and exit; the kernel keeps what was written. */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
    child.stdin.end();
    const t = setTimeout(() => child.kill('SIGKILL'), 1000);
    await exited;
    clearTimeout(t);
  }
}
