/**
 * The HTTP transport of the agent's API calls (not its watches, which client-node's Watch runs itself):
 * - one keep-alive `https.Agent` for every call. client-node 1.3.0 builds a new agent, so a new TLS connection, for
 *   every request (kubernetes-client/javascript#2893); a shared one took a finalizer patch from 7.1 to 3.1 ms and a
 *   GET from 5.0 to 1.2 ms here (NOTES-agent-performance.md). Its TLS options are those client-node computed for the
 *   request (CA, client certificate), so a rotated certificate gets a new agent; auth headers stay per request.
 * - a deadline on every request (an AbortSignal), and one more signal that aborts everything in flight on stop: an
 *   API server that accepts connections and never answers (frozen, blackholed) costs a timeout, never a hang.
 * - at most `maxSockets` requests on the wire at once; the rest wait in the agent's queue.
 */
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent, type AgentOptions } from 'node:https';
import { createConfiguration, ResponseContext, ServerConfiguration, wrapHttpLibrary, type Configuration, type HttpLibrary, type KubeConfig, type RequestContext } from '@kubernetes/client-node';

/** Options of {@link KubeTransport}. */
export interface KubeTransportProps {
  /** Deadline of one request, response body included. @default 15000 */
  readonly timeoutMs?: number;
  /** Requests on the wire at once. @default 16 */
  readonly maxSockets?: number;
}

/** The TLS material that makes two agents interchangeable. */
function tlsKey(o: AgentOptions | undefined): string {
  if (!o) return '';
  const s = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString('base64') : JSON.stringify(v));
  return [s(o.ca), s(o.cert), s(o.key), s(o.pfx), s(o.servername), String(o.rejectUnauthorized)].join('\u0000');
}

/** A client-node HttpLibrary over node:https with one shared keep-alive agent and a deadline per request. */
export class KubeTransport {
  private readonly stopping = new AbortController();
  private shared?: { key: string; agent: HttpsAgent };
  private readonly plain: HttpAgent;
  /** Requests sent so far. */
  requests = 0;

  constructor(private readonly props: KubeTransportProps = {}) {
    this.plain = new HttpAgent({ keepAlive: true, maxSockets: props.maxSockets ?? 16 });
  }

  /** The library to hand to client-node's createConfiguration. */
  library(): HttpLibrary {
    return wrapHttpLibrary({ send: (req) => this.send(req) });
  }

  /** A signal for one request: its deadline, or the transport's stop. */
  signal(timeoutMs = this.props.timeoutMs ?? 15_000): AbortSignal {
    return AbortSignal.any([AbortSignal.timeout(timeoutMs), this.stopping.signal]);
  }

  private agentFor(perRequest: unknown): HttpsAgent {
    const options = (perRequest as { options?: AgentOptions } | undefined)?.options;
    const key = tlsKey(options);
    if (this.shared?.key !== key) {
      this.shared?.agent.destroy();
      const { ca, cert, key: k, pfx, passphrase, rejectUnauthorized, servername } = options ?? {};
      this.shared = {
        key,
        agent: new HttpsAgent({ keepAlive: true, maxSockets: this.props.maxSockets ?? 16, ca, cert, key: k, pfx, passphrase, rejectUnauthorized, servername }),
      };
    }
    return this.shared.agent;
  }

  send(req: RequestContext): Promise<ResponseContext> {
    this.requests++;
    const url = new URL(req.getUrl());
    const https = url.protocol === 'https:';
    const agent = https ? this.agentFor(req.getAgent()) : this.plain;
    const signal = this.signal();
    const body = req.getBody() as string | Buffer | undefined;
    return new Promise((resolve, reject) => {
      const onResponse = (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error(`${req.getHttpMethod()} ${url.pathname}: response aborted`)));
        res.on('end', () => {
          const buf = Buffer.concat(chunks);
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
          resolve(new ResponseContext(res.statusCode ?? 0, headers, { text: async () => buf.toString('utf8'), binary: async () => buf }));
        });
      };
      const opts = { method: req.getHttpMethod().toString(), headers: req.getHeaders(), agent, signal };
      const r = https ? httpsRequest(url, opts, onResponse) : httpRequest(url, opts, onResponse);
      r.on('error', (e) => reject(signal.aborted && signal.reason instanceof Error ? Object.assign(new Error(`${req.getHttpMethod()} ${url.pathname}: ${signal.reason.message}`), { cause: e }) : e));
      if (body === undefined || body === null) r.end();
      else r.end(typeof body === 'string' || Buffer.isBuffer(body) ? body : String(body));
    });
  }

  /** Aborts every request in flight and closes idle connections; later requests fail at once. */
  close(): void {
    this.stopping.abort(new Error('the agent is stopping'));
    this.shared?.agent.destroy();
    this.plain.destroy();
  }
}

/** A client-node configuration whose every call goes through `transport` (its auth is the kubeconfig's). */
export function transportConfiguration(kc: KubeConfig, transport: KubeTransport): Configuration {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc }, httpApi: transport.library() });
}
