/**
 * The API server as the default-route override sees it: its real addresses (the `kubernetes` Endpoints in
 * `default`, which the agent's Role may read, not the Service ClusterIP that only works through kube-proxy) and
 * whether it answers. The addresses are kept by an informer on that one object (RBAC: get, list, watch on it by name),
 * so the dataplane reads them from memory and a moved API server reaches the keep-routes without a poll.
 */
import { isIP } from 'node:net';
import type { ControlPlane } from '../ports.js';
import type { Logger } from '../log.js';
import { systemClock, type BackoffPolicy, type Clock } from './backoff.js';
import { ResilientInformer, type InformerLike } from './informer.js';

/** The addresses listed in an Endpoints object (`subsets[].addresses[].ip`), deduplicated, in order. */
export function endpointAddresses(endpoints: unknown): string[] {
  const out: string[] = [];
  const rec = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (!rec(endpoints) || !Array.isArray(endpoints.subsets)) return out;
  for (const s of endpoints.subsets) {
    if (!rec(s) || !Array.isArray(s.addresses)) continue;
    for (const a of s.addresses) if (rec(a) && typeof a.ip === 'string' && isIP(a.ip) && !out.includes(a.ip)) out.push(a.ip);
  }
  return out;
}

/** The kubeconfig server's host when it is an IP address (a name would need DNS, which an override may break). */
export function serverAddress(server: string | undefined): string[] {
  if (!server) return [];
  let host: string;
  try {
    host = new URL(server).hostname;
  } catch {
    return [];
  }
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(bare) ? [bare] : [];
}

/** What the control-plane adapter needs from the API. */
export interface ControlPlaneApi {
  /** The `kubernetes` Endpoints object in `default`. */
  readEndpoints(): Promise<unknown>;
  /** The kubeconfig's server URL. */
  readonly server: string | undefined;
  /** GET /readyz (falling back to /healthz) within the signal's life. */
  readyz(signal: AbortSignal): Promise<boolean>;
}

/** Options of {@link kubeControlPlane}. */
export interface KubeControlPlaneProps {
  /** The Endpoints informer (not started); without it the addresses are read with a GET when asked. */
  readonly informer?: InformerLike;
  readonly clock?: Clock;
  readonly backoff?: BackoffPolicy;
}

/** The ControlPlane port plus the start/stop of its informer (a companion of the Route source). */
export interface KubeControlPlane extends ControlPlane {
  start(): void;
  stop(): void;
}

/**
 * The ControlPlane port over the API: the `kubernetes` Endpoints, kept by an informer and pushed to watchers as they
 * change; the kubeconfig server's IP when they list no address or cannot be read.
 */
export function kubeControlPlane(api: ControlPlaneApi, log: Logger, props: KubeControlPlaneProps = {}): KubeControlPlane {
  let known: readonly string[] | undefined;
  const listeners: ((a: readonly string[]) => void)[] = [];
  const set = (found: readonly string[]) => {
    const next = found.length ? found : serverAddress(api.server);
    if (known && known.join(',') === next.join(',')) return;
    known = next;
    for (const l of listeners) l(next);
  };
  const informer = props.informer
    ? new ResilientInformer({
      name: 'endpoints',
      informer: props.informer,
      clock: props.clock ?? systemClock,
      log,
      ...(props.backoff ? { policy: props.backoff } : {}),
      onEvent: (ev) => {
        // A deleted Endpoints object says nothing about where the API server is: keep what was known.
        if (ev.kind !== 'delete') set(endpointAddresses(ev.object));
      },
    })
    : undefined;
  return {
    async addresses() {
      if (known) return known;
      try {
        const found = endpointAddresses(await api.readEndpoints());
        if (found.length) {
          set(found);
          return found;
        }
        log.warn('the kubernetes Endpoints list no address; using the kubeconfig server address');
      } catch (err) {
        log.warn('cannot read the kubernetes Endpoints; using the kubeconfig server address', { err });
      }
      return serverAddress(api.server);
    },
    watch(onChange) {
      listeners.push(onChange);
      if (known) onChange(known);
    },
    start() {
      void informer?.start();
    },
    stop() {
      void informer?.stop();
    },
    async reachable(timeoutMs) {
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), timeoutMs);
      try {
        return await api.readyz(ac.signal);
      } catch (err) {
        log.debug('API server not reachable', { err });
        return false;
      } finally {
        clearTimeout(t);
      }
    },
  };
}
