/**
 * The API calls of per-node reporting (docs/status.md): this node's RouteReport and its heartbeat Lease. A thin
 * adapter over @kubernetes/client-node, kept apart from api.ts so the reporting loop can move without it. Every
 * call goes through one {@link KubeTransport}: a keep-alive connection (client-node's own `makeApiClient` opens a
 * new TLS connection per call, which at 1,000 nodes is 100 handshakes a second for the heartbeats alone) and a
 * deadline per request that aborts it (a hung connection must not stall reports).
 */
import {
  CoordinationV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Lease,
} from '@kubernetes/client-node';
import { REPORT_GROUP, REPORT_PLURAL, REPORT_VERSION } from '../../core/index.js';
import { KubeTransport, transportConfiguration, type KubeTransportProps } from './transport.js';

/** Every call the report writer and the heartbeat make. */
export interface ReportApi {
  /** This node's report (rejects with code 404 when there is none yet). */
  getReport(name: string): Promise<unknown>;
  createReport(body: Record<string, unknown>): Promise<unknown>;
  /** JSON merge patch (RFC 7386) of a report. */
  patchReport(name: string, patch: Record<string, unknown>): Promise<unknown>;
  /** Server-side apply of a Lease (creates it when missing). */
  applyLease(namespace: string, name: string, body: Record<string, unknown>, fieldManager: string): Promise<unknown>;
  /** Aborts every request in flight and closes the connection (the agent is stopping). */
  close?(): void;
}

const coords = { group: REPORT_GROUP, version: REPORT_VERSION, plural: REPORT_PLURAL };

/** {@link ReportApi} over client-node 1.x and a keep-alive transport, each call within `timeoutMs`. */
export function clientReportApi(kc: KubeConfig, timeoutMs = 10_000, transportProps: KubeTransportProps = {}): ReportApi {
  // Two sockets: a report write and a heartbeat renewal never wait for each other.
  const transport = new KubeTransport({ maxSockets: 2, ...transportProps, timeoutMs });
  const configuration = transportConfiguration(kc, transport);
  const custom = new CustomObjectsApi(configuration);
  const coord = new CoordinationV1Api(configuration);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const apply = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);
  return {
    getReport: (name) => custom.getClusterCustomObject({ ...coords, name }),
    createReport: (body) => custom.createClusterCustomObject({ ...coords, body }),
    patchReport: (name, body) => custom.patchClusterCustomObject({ ...coords, name, body }, merge),
    applyLease: (namespace, name, body, fieldManager) => coord.patchNamespacedLease({ name, namespace, body: body as V1Lease, fieldManager, force: true }, apply),
    close: () => transport.close(),
  };
}
