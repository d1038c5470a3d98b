/**
 * The thin adapter over @kubernetes/client-node: every call the Kubernetes face makes, nothing decided here.
 * Kept behind {@link KubeApi} so the reporter and the source are exercised without an API server.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  Health,
  KubeConfig,
  ListWatch,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type CoreV1Event,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { ROUTE_GROUP, ROUTE_PLURAL, ROUTE_VERSION } from '../../core/index.js';
import type { ControlPlaneApi } from './control-plane.js';
import type { InformerLike } from './informer.js';
import type { JsonPatchOp } from './status.js';
import { KubeTransport, transportConfiguration, type KubeTransportProps } from './transport.js';

/** Every API call of the Kubernetes face. */
export interface KubeApi extends ControlPlaneApi {
  /** An informer over every Route (not started). */
  routeInformer(): InformerLike;
  /** An informer over one Node, by field selector (not started). */
  nodeInformer(nodeName: string): InformerLike;
  /** An informer over the `kubernetes` Endpoints in `default` (not started): the API server's real addresses. */
  endpointsInformer?(): InformerLike;
  /** Aborts every request in flight; later requests fail at once (the agent is stopping). */
  close?(): void;
  getRoute(name: string): Promise<unknown>;
  /** Server-side apply to the Route (metadata: finalizers). */
  applyRoute(name: string, body: Record<string, unknown>, fieldManager: string): Promise<unknown>;
  /** Server-side apply to the Route's status subresource. */
  applyRouteStatus(name: string, body: Record<string, unknown>, fieldManager: string): Promise<unknown>;
  /** JSON patch of the Route. */
  jsonPatchRoute(name: string, ops: readonly JsonPatchOp[]): Promise<unknown>;
  /** JSON patch of the Route's status subresource. */
  jsonPatchRouteStatus(name: string, ops: readonly JsonPatchOp[]): Promise<unknown>;
  /** Every Node (served from the API server's watch cache). */
  listNodes(): Promise<unknown[]>;
  createEvent(namespace: string, body: Record<string, unknown>): Promise<unknown>;
  /** Merge patch of an Event. */
  patchEvent(namespace: string, name: string, body: Record<string, unknown>): Promise<unknown>;
}

const routeCoords = { group: ROUTE_GROUP, version: ROUTE_VERSION, plural: ROUTE_PLURAL };

/** The HTTP status of a failed API call, if it has one (client-node's ApiException, or the watch's error). */
export function statusCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

/** Loads the kubeconfig: the file when given, in-cluster (ServiceAccount token) otherwise. */
export function loadKubeConfig(kubeconfig: string): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig) kc.loadFromFile(kubeconfig);
  else kc.loadFromCluster();
  return kc;
}

/**
 * {@link KubeApi} over client-node 1.x, every call through one {@link KubeTransport} (a shared keep-alive agent and
 * a deadline per request).
 */
export function clientNodeApi(kc: KubeConfig, transportProps: KubeTransportProps = {}): KubeApi {
  const transport = new KubeTransport(transportProps);
  const configuration = transportConfiguration(kc, transport);
  const custom = new CustomObjectsApi(configuration);
  const core = new CoreV1Api(configuration);
  const health = new Health(kc);
  const watch = new Watch(kc);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const asInformer = (lw: ListWatch<KubernetesObject>): InformerLike => lw as unknown as InformerLike;
  return {
    server: kc.getCurrentCluster()?.server,
    routeInformer() {
      const list = () => custom.listClusterCustomObject(routeCoords) as Promise<KubernetesListObject<KubernetesObject>>;
      return asInformer(new ListWatch(`/apis/${ROUTE_GROUP}/${ROUTE_VERSION}/${ROUTE_PLURAL}`, watch, list, false));
    },
    nodeInformer(nodeName) {
      const fieldSelector = `metadata.name=${nodeName}`;
      const list = () => core.listNode({ fieldSelector }) as Promise<KubernetesListObject<KubernetesObject>>;
      return asInformer(new ListWatch('/api/v1/nodes', watch, list, false, undefined, fieldSelector));
    },
    endpointsInformer() {
      const fieldSelector = 'metadata.name=kubernetes';
      const list = () => core.listNamespacedEndpoints({ namespace: 'default', fieldSelector }) as Promise<KubernetesListObject<KubernetesObject>>;
      return asInformer(new ListWatch('/api/v1/namespaces/default/endpoints', watch, list, false, undefined, fieldSelector));
    },
    close: () => transport.close(),
    getRoute: (name) => custom.getClusterCustomObject({ ...routeCoords, name }),
    applyRoute: (name, body, fieldManager) =>
      custom.patchClusterCustomObject({ ...routeCoords, name, body, fieldManager, force: true }, apply),
    applyRouteStatus: (name, body, fieldManager) =>
      custom.patchClusterCustomObjectStatus({ ...routeCoords, name, body, fieldManager, force: true }, apply),
    jsonPatchRoute: (name, ops) => custom.patchClusterCustomObject({ ...routeCoords, name, body: ops }, jsonPatch),
    jsonPatchRouteStatus: (name, ops) => custom.patchClusterCustomObjectStatus({ ...routeCoords, name, body: ops }, jsonPatch),
    async listNodes() {
      // resourceVersion "0": any recent state from the watch cache is good enough and spares etcd.
      const list = await core.listNode({ resourceVersion: '0' });
      return list.items;
    },
    createEvent: (namespace, body) => core.createNamespacedEvent({ namespace, body: typedEvent(body) }),
    patchEvent: (namespace, name, body) => core.patchNamespacedEvent({ namespace, name, body }, mergePatch),
    readEndpoints: () => core.readNamespacedEndpoints({ namespace: 'default', name: 'kubernetes' }),
    readyz: (signal) => health.readyz({ signal }),
  };
}

/**
 * client-node serializes a typed Event by its schema: timestamps must be Date objects there (it calls
 * toISOString on them), while the decision module speaks JSON.
 */
function typedEvent(body: Record<string, unknown>): CoreV1Event {
  const out: Record<string, unknown> = { ...body };
  for (const k of ['firstTimestamp', 'lastTimestamp']) {
    const v = body[k];
    if (typeof v === 'string') out[k] = new Date(v);
  }
  return out as unknown as CoreV1Event;
}
