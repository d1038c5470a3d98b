/**
 * /healthz (the process serves), /readyz (the source has synced and the first plan is applied) and /metrics
 * (Prometheus). One server per distinct address and port; a port of 0 turns that endpoint off. Closed by default:
 * health on 127.0.0.1, metrics on 127.0.0.1 or the node's private address (docs/security.md): under hostNetwork,
 * 0.0.0.0 would answer on the node's public IP without authentication.
 */
import { createServer, type Server } from 'node:http';
import { networkInterfaces } from 'node:os';
import { cidrContains, parseCidr, parseIp } from '../core/index.js';

/** Private ranges for `--metrics-bind-address=private`: RFC 1918, then RFC 4193 (ULA). */
const PRIVATE = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'];

/**
 * The address to listen on: the text itself, or for `private` the first private address of the host's interfaces
 * (IPv4 first; DigitalOcean: eth1's VPC address), or 127.0.0.1 when the host has none.
 */
export function resolveBindAddress(text: string, interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string {
  if (text !== 'private') return text;
  const all = Object.values(interfaces).flatMap((l) => l ?? []).filter((a) => !a.internal).map((a) => a.address);
  const ranges = PRIVATE.map((c) => parseCidr(c)).flatMap((c) => (c.ok ? [c.value] : []));
  const isPrivate = (a: string) => {
    const ip = parseIp(a);
    return ip.ok && ranges.some((r) => cidrContains(r, ip.value));
  };
  return all.filter((a) => !a.includes(':')).find(isPrivate) ?? all.find(isPrivate) ?? '127.0.0.1';
}

/** What /metrics serves (a prom-client Registry). */
export interface MetricsRegistry {
  metrics(): Promise<string>;
  readonly contentType: string;
}

/** What the endpoints read. */
export interface HttpProps {
  /** Where /healthz and /readyz listen. */
  readonly bindAddress: string;
  /** Where /metrics listens (an IP or `private`). @default bindAddress */
  readonly metricsBindAddress?: string;
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
    const healthAt = resolveBindAddress(this.props.bindAddress);
    const metricsAt = resolveBindAddress(this.props.metricsBindAddress ?? this.props.bindAddress);
    const plan = new Map<string, { address: string; port: number; roles: Set<'health' | 'metrics'> }>();
    if (healthPort) plan.set(`${healthAt} ${healthPort}`, { address: healthAt, port: healthPort, roles: new Set(['health']) });
    if (metricsPort) {
      const k = `${metricsAt} ${metricsPort}`;
      plan.set(k, { address: metricsAt, port: metricsPort, roles: new Set([...(plan.get(k)?.roles ?? []), 'metrics']) });
    }
    const bound: number[] = [];
    for (const { address, port, roles } of plan.values()) {
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
        server.listen(port, address, () => resolve());
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
