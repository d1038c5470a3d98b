/**
 * A stand-in agent for the scale simulation: kroute's real Kubernetes face (the Route and Node informers of
 * KubeRouteSource, the RouteReport writer, the heartbeat Lease) over a real API server, with a stand-in kernel:
 * every Route that selects the node is "applied" at once (core's own selection), so what is measured is the
 * Kubernetes side alone. Counts watch events and the bytes of the objects they carry (their JSON).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { selectNode, type NodeSelector } from '../../core/index.js';
import { clientNodeApi } from '../../agent/kube/api.js';
import { systemClock } from '../../agent/kube/backoff.js';
import { NodeHeartbeat } from '../../agent/kube/heartbeat.js';
import type { InformerLike } from '../../agent/kube/informer.js';
import { clientReportApi } from '../../agent/kube/report-api.js';
import { NodeReportWriter } from '../../agent/kube/report-writer.js';
import { KubeRouteSource } from '../../agent/kube/source.js';
import type { Logger } from '../../agent/log.js';
import type { SourceSnapshot } from '../../agent/ports.js';

/** Watch events and their bytes received, per process (every stand-in adds to them). */
export interface Received {
  events: number;
  bytes: number;
}

/** Sizes of objects already measured, by kind/name/resourceVersion: every agent receives the same objects. */
const sizes = new Map<string, number>();
function sizeOf(obj: unknown): number {
  const m = (obj as { kind?: string; metadata?: { name?: string; resourceVersion?: string } }) ?? {};
  const key = `${m.kind ?? ''}/${m.metadata?.name ?? ''}/${m.metadata?.resourceVersion ?? ''}`;
  let n = sizes.get(key);
  if (n === undefined) {
    n = JSON.stringify(obj).length;
    if (sizes.size > 200_000) sizes.clear();
    sizes.set(key, n);
  }
  return n;
}

function counting(inner: InformerLike, into: Received): InformerLike {
  return {
    on(verb: string, cb: (x: never) => void) {
      if (verb === 'add' || verb === 'update' || verb === 'delete') {
        inner.on(verb, (obj: never) => {
          into.events++;
          into.bytes += sizeOf(obj);
          cb(obj);
        });
      } else inner.on(verb as 'error', cb as (err?: unknown) => void);
    },
    start: () => inner.start(),
    stop: () => inner.stop(),
  } as InformerLike;
}

/** Options of {@link StandInAgent}. */
export interface StandInAgentProps {
  readonly nodeName: string;
  readonly server: string;
  readonly caFile: string;
  readonly token: string;
  readonly namespace: string;
  readonly log: Logger;
  readonly received: Received;
}

/** One simulated node. */
export class StandInAgent {
  readonly source: KubeRouteSource;
  readonly writer: NodeReportWriter;
  readonly heartbeat: NodeHeartbeat;

  constructor(props: StandInAgentProps) {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: props.server, caFile: props.caFile }],
      users: [{ name: 'u', token: props.token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const api = clientNodeApi(kc);
    const reportApi = clientReportApi(kc, 30_000);
    const log = props.log.with({ node: props.nodeName });
    this.source = new KubeRouteSource({
      nodeName: props.nodeName,
      routeInformer: counting(api.routeInformer(), props.received),
      nodeInformer: counting(api.nodeInformer(props.nodeName), props.received),
      log,
      clock: systemClock,
    });
    this.writer = new NodeReportWriter({ api: reportApi, nodeName: props.nodeName, view: this.source, log, clock: systemClock });
    this.heartbeat = new NodeHeartbeat({ api: reportApi, namespace: props.namespace, nodeName: props.nodeName, nodeUid: () => this.source.nodeObject()?.metadata.uid, log, clock: systemClock });
    this.source.onRoutes((name) => {
      if (!this.source.route(name)) this.writer.remove(name);
    });
    this.source.attach(this.writer);
    this.source.attach(this.heartbeat);
  }

  start(): Promise<void> {
    return this.source.start((s) => this.kernel(s));
  }

  stop(): Promise<void> {
    return this.source.stop();
  }

  /** The stand-in kernel: selected Routes are applied at once, deleted ones removed at once. */
  private kernel(s: SourceSnapshot): void {
    const now = new Date().toISOString();
    for (const r of s.routes) {
      const obj = r.object as { metadata?: { uid?: string }; spec?: { nodeSelector?: NodeSelector } };
      if (r.deleting || !selectNode(obj.spec?.nodeSelector, s.node).selected) {
        this.writer.remove(r.name);
        continue;
      }
      this.writer.write(r.name, {
        state: 'Applied',
        reason: 'Programmed',
        ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
        ...(r.generation !== undefined ? { observedGeneration: r.generation } : {}),
        since: now,
      });
    }
  }
}
