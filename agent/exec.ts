/** Running a program with an argument array (never a shell), with a timeout, optional stdin, never throwing. */
import { execFile } from 'node:child_process';

/** How a finished program ended. */
export interface ExecResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Set when the program could not be started or was killed (timeout). */
  readonly error?: string;
}

/** Runs `cmd` with `args`; resolves with its exit code and output. */
export function execProgram(cmd: string, args: readonly string[], opts: { input?: string | Promise<string>; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, [...args], { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout: String(stdout), stderr: String(stderr) });
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean; signal?: string | null };
      const code = typeof e.code === 'number' ? e.code : -1;
      const error = typeof e.code === 'string' ? `${cmd}: ${e.code} ${e.message}` : e.killed ? `${cmd}: killed (${e.signal ?? 'timeout'})` : undefined;
      resolve({ code, stdout: String(stdout), stderr: String(stderr), ...(error ? { error } : {}) });
    });
    child.stdin?.on('error', () => undefined);
    // A promised input lets a caller start the program before it knows what to send (the kernel adapter starts its
    // writer while it reads the kernel).
    if (typeof opts.input === 'string') child.stdin?.end(opts.input);
    else if (opts.input) opts.input.then((text) => child.stdin?.end(text), () => child.stdin?.end());
    else child.stdin?.end();
  });
}
