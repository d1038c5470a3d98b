/**
 * /healthz (the process serves), /readyz (the source has synced and the first plan is applied) and /metrics
 * (Prometheus). One server per distinct port; a port of 0 turns that endpoint off.
 */
import { createServer, type Server } from 'node:http';

/** What /metrics serves (a prom-client Registry). */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** What the endpoints read. */
export interface HttpProps {
  readonly bindAddress: string;
  readonly healthPort: number;
  readonly metricsPort: number;
  readonly ready: () => boolean;
  /** Required when metricsPort is set. */
  readonly registry?: MetricsRegistry;
}

/** The health and metrics servers. */
export class AgentHttp {
  private readonly servers: Server[] = [];

  constructor(private readonly props: HttpProps) {}

  /** Starts listening; resolves with the ports actually bound (port 0 in the props means off). */
  async start(): Promise<number[]> {
    const { healthPort, metricsPort } = this.props;
    const plan = new Map<number, Set<'health' | 'metrics'>>();
    if (healthPort) plan.set(healthPort, new Set(['health']));
    if (metricsPort) plan.set(metricsPort, new Set([...(plan.get(metricsPort) ?? []), 'metrics']));
    const bound: number[] = [];
    for (const [port, roles] of plan) {
      const server = createServer((req, res) => {
        const path = (req.url ?? '/').split('?')[0];
        if (roles.has('health') && path === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        if (roles.has('health') && path === '/readyz') {
          const ok = this.props.ready();
          return void res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
        }
        const registry = this.props.registry;
        if (roles.has('metrics') && path === '/metrics' && registry) {
          registry.metrics().then(
            (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
            (e: Error) => res.writeHead(500).end(e.message),
          );
          return;
        }
        res.writeHead(404).end('not found\n');
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.props.bindAddress, () => resolve());
      });
      this.servers.push(server);
      const addr = server.address();
      bound.push(typeof addr === 'object' && addr ? addr.port : port);
    }
    return bound;
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((resolve) => {
      s.closeAllConnections?.();
      s.close(() => resolve());
    })));
  }
}
