/**
 * `--dry-run` against the API server: the Kubernetes face over an API whose writes (finalizers, status entries,
 * Events) are logged and dropped, so a dry-running agent reads Routes and its Node like the real one and changes
 * nothing in the cluster. Loaded only in Kubernetes mode (it brings the client with it).
 */
import type { AgentConfig } from '../core/index.js';
import { clientNodeApi, loadKubeConfig, type KubeApi } from './kube/api.js';
import { kubeFaceOver, type KubeFaceHandle } from './kube/index.js';
import type { Logger } from './log.js';

/**
 * `api` with every write replaced by a log line (reads go through). Every method is listed, none spread: a method
 * added to KubeApi fails to compile here until someone decides whether it reads or writes.
 */
export function readOnlyKubeApi(api: KubeApi, log: Logger): KubeApi {
  const drop = (what: string) => async (...args: unknown[]): Promise<unknown> => {
    log.info(`dry-run: would ${what}`, { target: typeof args[0] === 'string' ? args[0] : undefined, body: args[1] });
    return {};
  };
  return {
    server: api.server,
    routeInformer: () => api.routeInformer(),
    nodeInformer: (nodeName) => api.nodeInformer(nodeName),
    getRoute: (name) => api.getRoute(name),
    listNodes: () => api.listNodes(),
    readEndpoints: () => api.readEndpoints(),
    readyz: (signal) => api.readyz(signal),
    applyRoute: drop('apply to the Route'),
    applyRouteStatus: drop('apply to the Route status'),
    jsonPatchRoute: drop('patch the Route'),
    jsonPatchRouteStatus: drop('patch the Route status'),
    createEvent: drop('create an Event'),
    patchEvent: drop('patch an Event'),
  };
}

/** The Kubernetes face of a dry-running agent. */
export function dryRunKubeFace(config: AgentConfig, log: Logger): KubeFaceHandle {
  return kubeFaceOver(readOnlyKubeApi(clientNodeApi(loadKubeConfig(config.kubeconfig)), log.with({ component: 'dry-run' })), { config, log });
}
