/**
 * The API server as the default-route override sees it: its real addresses (the `kubernetes` Endpoints in
 * `default`, which the agent's Role may read, not the Service ClusterIP that only works through kube-proxy) and
 * whether it answers.
 */
import { isIP } from 'node:net';
import type { ControlPlane } from '../ports.js';
import type { Logger } from '../log.js';

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

/** The ControlPlane port over the API: Endpoints first, the kubeconfig server's IP when they cannot be read. */
export function kubeControlPlane(api: ControlPlaneApi, log: Logger): ControlPlane {
  return {
    async addresses() {
      try {
        const found = endpointAddresses(await api.readEndpoints());
        if (found.length) return found;
        log.warn('the kubernetes Endpoints list no address; using the kubeconfig server address');
      } catch (err) {
        log.warn('cannot read the kubernetes Endpoints; using the kubeconfig server address', { err });
      }
      return serverAddress(api.server);
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
