/**
 * The API calls of per-node reporting (docs/status.md): this node's RouteReport and its heartbeat Lease. A thin
 * adapter over @kubernetes/client-node, kept apart from api.ts so the reporting loop can move without it.
 */
import { CoordinationV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { REPORT_GROUP, REPORT_PLURAL, REPORT_VERSION } from '../../core/index.js';

/** Every call the report writer and the heartbeat make. */
export interface ReportApi {
  /** This node's report (rejects with code 404 when there is none yet). */
  getReport(name: string): Promise<unknown>;
  createReport(body: Record<string, unknown>): Promise<unknown>;
  /** JSON merge patch (RFC 7386) of a report. */
  patchReport(name: string, patch: Record<string, unknown>): Promise<unknown>;
  /** Server-side apply of a Lease (creates it when missing). */
  applyLease(namespace: string, name: string, body: Record<string, unknown>, fieldManager: string): Promise<unknown>;
}

const coords = { group: REPORT_GROUP, version: REPORT_VERSION, plural: REPORT_PLURAL };

/** Rejects when `p` takes longer than `ms` (every API call has a deadline: a hung connection must not stall reports). */
export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** {@link ReportApi} over client-node 1.x, each call within `timeoutMs`. */
export function clientReportApi(kc: KubeConfig, timeoutMs = 10_000): ReportApi {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const coord = kc.makeApiClient(CoordinationV1Api);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  return {
    getReport: (name) => withDeadline(custom.getClusterCustomObject({ ...coords, name }), timeoutMs, 'get RouteReport'),
    createReport: (body) => withDeadline(custom.createClusterCustomObject({ ...coords, body }), timeoutMs, 'create RouteReport'),
    patchReport: (name, body) => withDeadline(custom.patchClusterCustomObject({ ...coords, name, body }, merge), timeoutMs, 'patch RouteReport'),
    applyLease: (namespace, name, body, fieldManager) =>
      withDeadline(coord.patchNamespacedLease({ name, namespace, body: body as V1Lease, fieldManager, force: true }, apply), timeoutMs, 'apply Lease'),
  };
}
