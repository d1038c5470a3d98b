/**
 * Leader election over a coordination.k8s.io Lease, as client-go's leaderelection does: the holder renews every
 * `retrySeconds`; another candidate takes over once it has seen the Lease unchanged for `leaseDurationSeconds`
 * (timed on its own clock, so skew does not matter); writes are guarded by resourceVersion, so two candidates
 * never both win. A leader that cannot renew within `renewDeadlineSeconds` stops leading.
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { statusCode } from '../kube/api.js';
import type { Clock } from '../kube/backoff.js';
import { describe } from '../kube/informer.js';
import { microTime } from '../kube/heartbeat.js';
import type { LeaseApi } from './api.js';

/** Options of {@link LeaderElector}. */
export interface LeaderElectorProps {
  readonly api: LeaseApi;
  readonly namespace: string;
  readonly name: string;
  readonly identity: string;
  readonly log: Logger;
  readonly clock: Clock;
  /** @default 15 (client-go's default) */
  readonly leaseDurationSeconds?: number;
  /** @default 10 */
  readonly renewDeadlineSeconds?: number;
  /** @default 2 */
  readonly retrySeconds?: number;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
}

/** One candidate. */
export class LeaderElector {
  private timer: unknown;
  private stopped = true;
  private leading = false;
  private lastRenewMs = 0;
  /** The Lease as last seen, and when it was last seen to change. */
  private observed: { rv?: string; holder?: string; renew?: string; atMs: number } | undefined;

  constructor(private readonly props: LeaderElectorProps) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /** When the Lease was last renewed by this leader (ms on its clock). */
  get lastRenewed(): number {
    return this.lastRenewMs;
  }

  start(): void {
    this.stopped = false;
    void this.tick();
  }

  /** Stops campaigning; a leader lets the Lease go (holder cleared) so a successor need not wait for it to expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.props.clock.clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const l = await this.props.api.readLease(this.props.namespace, this.props.name);
      if (l.spec?.holderIdentity === this.props.identity) {
        await this.props.api.replaceLease(this.props.namespace, this.props.name, { ...l, spec: { ...l.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
      }
    } catch (err) {
      this.props.log.warn('cannot release the leader Lease', { err: describe(err) });
    }
    this.props.onStoppedLeading();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const now = this.props.clock.now();
    const duration = this.props.leaseDurationSeconds ?? 15;
    try {
      await this.tryAcquireOrRenew(now, duration);
    } catch (err) {
      this.props.log.warn('leader election: cannot read or write the Lease', { lease: this.props.name, err: describe(err) });
    }
    if (this.leading && now - this.lastRenewMs > (this.props.renewDeadlineSeconds ?? 10) * 1000) {
      this.leading = false;
      this.props.log.error('lost leadership: the Lease could not be renewed in time', { lease: this.props.name });
      this.props.onStoppedLeading();
    }
    if (this.stopped) return;
    this.timer = this.props.clock.setTimeout(() => void this.tick(), (this.props.retrySeconds ?? 2) * 1000);
  }

  private async tryAcquireOrRenew(now: number, duration: number): Promise<void> {
    const { api, namespace, name, identity } = this.props;
    let lease: V1Lease | undefined;
    try {
      lease = await api.readLease(namespace, name);
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    const spec = { holderIdentity: identity, leaseDurationSeconds: duration, renewTime: microTime(now) as unknown as Date };
    if (!lease) {
      try {
        await api.createLease(namespace, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: { ...spec, acquireTime: spec.renewTime, leaseTransitions: 0 } });
        this.becameLeader(now);
      } catch (err) {
        if (statusCode(err) !== 409) throw err;
      }
      return;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    const renew = String(lease.spec?.renewTime ?? '');
    const rv = lease.metadata?.resourceVersion;
    if (!this.observed || this.observed.rv !== rv) this.observed = { rv, holder, renew, atMs: now };
    const mine = holder === identity;
    const theirDuration = (lease.spec?.leaseDurationSeconds ?? duration) * 1000;
    const expired = holder === '' || now - this.observed.atMs >= theirDuration;
    if (!mine && !expired) return;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1);
    try {
      await api.replaceLease(namespace, name, {
        ...lease,
        spec: { ...lease.spec, ...spec, leaseTransitions: transitions, ...(mine ? {} : { acquireTime: spec.renewTime }) },
      });
      if (mine && this.leading) this.lastRenewMs = now;
      else this.becameLeader(now);
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  }

  private becameLeader(now: number): void {
    this.lastRenewMs = now;
    if (this.leading) return;
    this.leading = true;
    this.props.log.info('became leader', { lease: this.props.name, identity: this.props.identity });
    this.props.onStartedLeading();
  }
}
