/**
 * Every API call of kroute's controller: informers over Routes, RouteReports, the agents' heartbeat Leases and
 * Nodes; the finalizer and summary writes; its leader-election Lease. A thin adapter over @kubernetes/client-node;
 * nothing is decided here. Writes and the leader Lease go through keep-alive transports (agent/kube/transport.ts)
 * with a deadline per request: client-node's `makeApiClient` opens a new TLS connection per call, which made each
 * of a bulk deletion's 1,000 finalizer releases a handshake (docs/status.md). The Lease has its own connection, so
 * a queue of writes never delays a renewal. Lists (rare, large) keep client-node's own client.
 */
import {
  CoordinationV1Api, CoreV1Api, CustomObjectsApi, ListWatch, PatchStrategy, setHeaderOptions, Watch,
  type KubeConfig, type KubernetesListObject, type KubernetesObject, type V1Lease,
} from '@kubernetes/client-node';
import { REPORT_GROUP, REPORT_PLURAL, REPORT_VERSION, ROUTE_GROUP, ROUTE_PLURAL, ROUTE_VERSION } from '../../core/index.js';
import type { InformerLike } from '../kube/informer.js';
import { KubeTransport, transportConfiguration } from '../kube/transport.js';

/** A JSON patch operation. */
export interface PatchOp {
  readonly op: 'test' | 'remove';
  readonly path: string;
  readonly value?: unknown;
}

/** The controller's calls. */
export interface ControllerApi {
  routeInformer(): InformerLike;
  reportInformer(): InformerLike;
  /** Heartbeat Leases in `namespace` (label app.kubernetes.io/component=heartbeat). */
  heartbeatInformer(namespace: string): InformerLike;
  nodeInformer(): InformerLike;
  applyRoute(name: string, body: Record<string, unknown>, fieldManager: string): Promise<unknown>;
  applyRouteStatus(name: string, body: Record<string, unknown>, fieldManager: string): Promise<unknown>;
  jsonPatchRoute(name: string, ops: readonly PatchOp[]): Promise<unknown>;
  /** Aborts every request in flight and closes the connections (the controller is stopping). */
  close?(): void;
}

/** The leader-election Lease calls. */
export interface LeaseApi {
  readLease(namespace: string, name: string): Promise<V1Lease>;
  createLease(namespace: string, body: V1Lease): Promise<V1Lease>;
  /** Replace guarded by body.metadata.resourceVersion (409 when someone wrote first). */
  replaceLease(namespace: string, name: string, body: V1Lease): Promise<V1Lease>;
}

const routeCoords = { group: ROUTE_GROUP, version: ROUTE_VERSION, plural: ROUTE_PLURAL };
const reportCoords = { group: REPORT_GROUP, version: REPORT_VERSION, plural: REPORT_PLURAL };

/**
 * {@link ControllerApi} over client-node 1.x; writes within `timeoutMs`, at most `writeSockets` on the wire (the
 * controller's `writesInFlight`: more would only queue).
 */
export function clientControllerApi(kc: KubeConfig, timeoutMs = 10_000, writeSockets = 16): ControllerApi & LeaseApi {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const coord = kc.makeApiClient(CoordinationV1Api);
  const writes = new KubeTransport({ timeoutMs, maxSockets: writeSockets });
  const leases = new KubeTransport({ timeoutMs, maxSockets: 1 });
  const write = new CustomObjectsApi(transportConfiguration(kc, writes));
  const lease = new CoordinationV1Api(transportConfiguration(kc, leases));
  const watch = new Watch(kc);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  const inf = (lw: ListWatch<KubernetesObject>): InformerLike => lw as unknown as InformerLike;
  type List = Promise<KubernetesListObject<KubernetesObject>>;
  const heartbeats = 'app.kubernetes.io/component=heartbeat';
  return {
    routeInformer: () =>
      inf(new ListWatch(`/apis/${ROUTE_GROUP}/${ROUTE_VERSION}/${ROUTE_PLURAL}`, watch, () => custom.listClusterCustomObject(routeCoords) as List, false)),
    reportInformer: () =>
      inf(new ListWatch(`/apis/${REPORT_GROUP}/${REPORT_VERSION}/${REPORT_PLURAL}`, watch, () => custom.listClusterCustomObject(reportCoords) as List, false)),
    heartbeatInformer: (namespace) =>
      inf(new ListWatch(`/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, watch,
        () => coord.listNamespacedLease({ namespace, labelSelector: heartbeats }) as List, false, heartbeats)),
    nodeInformer: () => inf(new ListWatch('/api/v1/nodes', watch, () => core.listNode() as List, false)),
    applyRoute: (name, body, fieldManager) => write.patchClusterCustomObject({ ...routeCoords, name, body, fieldManager, force: true }, apply),
    applyRouteStatus: (name, body, fieldManager) => write.patchClusterCustomObjectStatus({ ...routeCoords, name, body, fieldManager, force: true }, apply),
    jsonPatchRoute: (name, ops) => write.patchClusterCustomObject({ ...routeCoords, name, body: ops }, jsonPatch),
    readLease: (namespace, name) => lease.readNamespacedLease({ namespace, name }),
    createLease: (namespace, body) => lease.createNamespacedLease({ namespace, body }),
    replaceLease: (namespace, name, body) => lease.replaceNamespacedLease({ namespace, name, body }),
    close: () => {
      writes.close();
      leases.close();
    },
  };
}
