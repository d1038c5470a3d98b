/**
 * This node's heartbeat: a coordination.k8s.io Lease `kroute-node-<node>` the agent renews every 10 s (40 s
 * duration, as the kubelet's node Lease). The controller waits for a node's agent only while it sees this Lease
 * renewed, so a crash-looping agent on a Ready node holds no deletion (docs/status.md). One small write per renewal,
 * watched only by the controller.
 */
import { DEFAULT_LEASE_TIMING, nodeLeaseBody, nodeLeaseName, type LeaseTiming } from '../../core/index.js';
import type { Logger } from '../log.js';
import type { Clock } from './backoff.js';
import { describe } from './informer.js';
import type { ReportApi } from './report-api.js';

/** The field manager of the agent's Lease. */
export const HEARTBEAT_FIELD_MANAGER = 'kroute-agent';

/** Options of {@link NodeHeartbeat}. */
export interface NodeHeartbeatProps {
  readonly api: Pick<ReportApi, 'applyLease'>;
  readonly namespace: string;
  readonly nodeName: string;
  /** This node's Node uid, once known (the Lease is then owned by the Node, and goes with it). */
  readonly nodeUid: () => string | undefined;
  readonly log: Logger;
  readonly clock: Clock;
  readonly timing?: LeaseTiming;
  readonly random?: () => number;
}

/** RFC 3339 with microseconds, the MicroTime the Lease's renewTime takes. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** Renews the Lease until stopped; a failed renewal is tried again after a second or two, never thrown. */
export class NodeHeartbeat {
  private timer: unknown;
  private stopped = true;
  /** Renewals sent, for tests and the scale simulation. */
  renewals = 0;
  /** When the last renewal went through (ms), for /readyz-style checks. */
  lastRenewedMs: number | undefined;

  constructor(private readonly props: NodeHeartbeatProps) {}

  start(): void {
    if (!nodeLeaseName(this.props.nodeName)) {
      this.props.log.error('node name too long for a heartbeat Lease; deletions will not wait for this node', { node: this.props.nodeName });
      return;
    }
    this.stopped = false;
    void this.renew();
  }

  stop(): void {
    this.stopped = true;
    this.props.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    const timing = this.props.timing ?? DEFAULT_LEASE_TIMING;
    const now = this.props.clock.now();
    const name = nodeLeaseName(this.props.nodeName) as string;
    let next = timing.renewSeconds * 1000 * (0.9 + 0.2 * (this.props.random ?? Math.random)());
    try {
      this.renewals++;
      await this.props.api.applyLease(this.props.namespace, name, nodeLeaseBody(this.props.namespace, this.props.nodeName, this.props.nodeUid(), microTime(now), timing), HEARTBEAT_FIELD_MANAGER);
      this.lastRenewedMs = now;
    } catch (err) {
      // Half the renewal period: a missed renewal is made up well within the 40 s duration, and an overloaded API
      // server gets no more than twice the usual heartbeat writes (a quarter made it four times at 1,000 nodes).
      next = Math.max(1000, next / 2);
      this.props.log.warn('cannot renew the heartbeat Lease; retrying', { lease: name, retryMs: Math.round(next), err: describe(err) });
    }
    if (this.stopped) return;
    this.timer = this.props.clock.setTimeout(() => {
      this.timer = undefined;
      void this.renew();
    }, next);
  }
}
