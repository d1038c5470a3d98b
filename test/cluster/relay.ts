/**
 * A TCP relay from the test process (root network namespace) to the API server inside its namespace, so tests can
 * use @kubernetes/client-node in-process. Two hops joined by a Unix socket, which crosses network namespaces
 * because it lives in the file system: an in-process listener on 127.0.0.1:<random port> in the root namespace,
 * and a small Node process inside the control-plane namespace that connects to the API server's address.
 *
 * Chosen over a veth from the root namespace because it adds no address, route or interface to the machine's own
 * namespace and works whatever address the API server binds (127.0.0.1 included). TLS is end to end (the serving
 * certificate names 127.0.0.1). One difference from a direct connection: while the API server is down a client
 * sees its connection accepted and then closed, not ECONNREFUSED; fault tests that need the real refusal run
 * their client in a namespace routed to the API server's address.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Netns } from '../net/netns.js';

/** The relay's inner hop, run with `node -e` inside the namespace: argv is [socket path, host, port]. */
const INNER = `
const net = require('node:net');
const [sock, host, port] = process.argv.slice(1);
const server = net.createServer((c) => {
  const u = net.connect(Number(port), host);
  const end = () => { c.destroy(); u.destroy(); };
  for (const s of [c, u]) { s.on('error', end); s.on('close', end); }
  c.pipe(u); u.pipe(c);
});
server.listen(sock, () => process.stdout.write('ready\\n'));
process.on('SIGTERM', () => process.exit(0));
`;

function join(a: Socket, b: Socket): void {
  const end = (): void => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    // A reset on either side ends both: the client then sees what it would see from a dead server.
    s.on('error', end);
    s.on('close', end);
  }
  a.pipe(b);
  b.pipe(a);
}

/** A running relay; `port` on 127.0.0.1 in the root namespace reaches `host:port` inside the namespace. */
export class ApiRelay {
  private constructor(
    readonly port: number,
    private readonly server: Server,
    private readonly inner: ChildProcess,
    private readonly sockets: Set<Socket>,
  ) {}

  /** Starts both hops; `socketPath` is a fresh path in the control plane's temporary folder. */
  static async start(netns: Netns, socketPath: string, host: string, port: number): Promise<ApiRelay> {
    const inner = spawn('ip', ['netns', 'exec', netns.name, process.execPath, '-e', INNER, socketPath, host, String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    inner.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      inner.stdout?.once('data', () => resolve());
      inner.once('error', reject);
      inner.once('exit', (code) => reject(new Error(`API relay in ${netns.name} exited (${code}) before it was ready: ${stderr.trim()}`)));
    });
    const sockets = new Set<Socket>();
    const server = createServer((client) => {
      const upstream = connect(socketPath);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.once('close', () => sockets.delete(s));
      }
      join(client, upstream);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('API relay: no TCP address');
    return new ApiRelay(address.port, server, inner, sockets);
  }

  /** Closes the listener, its open connections and the inner process. */
  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.inner.exitCode === null && this.inner.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.inner.once('exit', () => resolve()));
      this.inner.kill('SIGTERM');
      await exited;
    }
  }
}
