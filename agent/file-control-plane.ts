/**
 * The ControlPlane of file mode: `--control-plane-addresses`, reachable when a TCP connection to one of them on 443
 * or 6443 opens in time. With no address given there is nothing to check, and an override is confirmed at once
 * (file mode is for tests and debugging; the Kubernetes face checks the real API server).
 */
import { connect } from 'node:net';
import type { ControlPlane } from './ports.js';

/** Ports tried on each address: DOKS's API endpoint listens on 443, kubeadm's on 6443. */
export const CONTROL_PLANE_PORTS = [443, 6443] as const;

function tcpOpens(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A ControlPlane from a fixed list of addresses. */
export class AddressControlPlane implements ControlPlane {
  constructor(private readonly list: readonly string[], private readonly ports: readonly number[] = CONTROL_PLANE_PORTS) {}

  async addresses(): Promise<readonly string[]> {
    return this.list;
  }

  async reachable(timeoutMs: number): Promise<boolean> {
    if (this.list.length === 0) return true;
    const attempts = this.list.flatMap((a) => this.ports.map((p) => tcpOpens(a, p, timeoutMs)));
    return (await Promise.all(attempts)).some(Boolean);
  }
}
