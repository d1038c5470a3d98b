/**
 * The cluster as `kroute` reads it: Routes (with their status entries), Nodes and the API server's addresses.
 * Reads only (get and list; the kroute-viewer ClusterRole, core/cli-rbac.ts), each with a deadline.
 */
import { delimiter } from 'node:path';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { ROUTE_GROUP, ROUTE_PLURAL, ROUTE_VERSION, type NodeFacts } from '../../core/index.js';
import { endpointAddresses, serverAddress } from '../kube/control-plane.js';
import { readNode, readRoute } from '../kube/objects.js';
import { nodeFacts } from '../kube/snapshot.js';
import type { ClusterRoute } from './explain.js';

/** How long one API call may take. */
const CALL_DEADLINE_MS = 30_000;

/**
 * Loads a kubeconfig: the file given, else KUBECONFIG or ~/.kube/config, else in-cluster (kubectl's order). A
 * KUBECONFIG list (`a:b`, which the agent's option table passes as one value) is merged as kubectl merges it.
 */
export function cliKubeConfig(file: string): KubeConfig {
  const kc = new KubeConfig();
  if (file && !file.includes(delimiter)) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error('no cluster in the kubeconfig (give --kubeconfig or set KUBECONFIG)');
  return kc;
}

async function deadline<T>(what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${CALL_DEADLINE_MS / 1000} s`)), CALL_DEADLINE_MS)));
  try {
    return await Promise.race([p, late]);
  } catch (e) {
    const err = e as { code?: number; body?: unknown; message?: string };
    const body = typeof err.body === 'string' ? err.body : err.body ? JSON.stringify(err.body) : '';
    const msg = /"message":"([^"]*)"/.exec(body)?.[1] ?? err.message ?? String(e);
    throw new Error(`${what} failed${err.code ? ` (HTTP ${err.code})` : ''}: ${msg}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Read-only access to the cluster. */
export class ClusterReader {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(private readonly kc: KubeConfig) {
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Every Route, sorted by name, with what agents reported in status.nodes. */
  async routes(): Promise<ClusterRoute[]> {
    const list = (await deadline('listing Routes', this.custom.listClusterCustomObject({ group: ROUTE_GROUP, version: ROUTE_VERSION, plural: ROUTE_PLURAL }))) as { items?: unknown[] };
    const out: ClusterRoute[] = [];
    for (const raw of list.items ?? []) {
      const r = readRoute(raw);
      if (!r) continue;
      out.push({
        name: r.metadata.name,
        object: raw,
        deleting: Boolean(r.metadata.deletionTimestamp),
        ...(r.metadata.generation !== undefined ? { generation: r.metadata.generation } : {}),
        reported: r.status?.nodes ?? [],
      });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One Node's name and labels; an error naming the node when it does not exist. */
  async node(name: string): Promise<NodeFacts> {
    const n = readNode(await deadline(`reading Node ${JSON.stringify(name)}`, this.core.readNode({ name })));
    if (!n) throw new Error(`Node ${JSON.stringify(name)} has no name in its metadata`);
    return nodeFacts(n, n.metadata.name);
  }

  /** Every Node's name and labels. */
  async nodes(): Promise<NodeFacts[]> {
    const list = await deadline('listing Nodes', this.core.listNode());
    return list.items.flatMap((raw) => {
      const n = readNode(raw);
      return n ? [nodeFacts(n, n.metadata.name)] : [];
    });
  }

  /** The API server's real addresses, as the agent finds them (the `kubernetes` Endpoints, else the kubeconfig's IP). */
  async controlPlaneAddresses(): Promise<string[]> {
    try {
      const found = endpointAddresses(await deadline('reading the kubernetes Endpoints', this.core.readNamespacedEndpoints({ namespace: 'default', name: 'kubernetes' })));
      if (found.length) return found;
    } catch {
      // Without access to the Endpoints (a narrower role), the kubeconfig's server address is the next best.
    }
    return serverAddress(this.kc.getCurrentCluster()?.server);
  }
}
