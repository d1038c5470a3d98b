/** Objects shaped as the API server sends them, for the Kubernetes face's seam tests. */

/** A Route object as the API server would send it. */
export function routeObj(name: string, o: { uid?: string; generation?: number; deleting?: boolean; finalizers?: string[]; status?: unknown; spec?: unknown } = {}): Record<string, unknown> {
  return {
    apiVersion: 'networking.doks.digitalocean.com/v1alpha1',
    kind: 'Route',
    metadata: {
      name,
      uid: o.uid ?? `uid-${name}`,
      generation: o.generation ?? 1,
      resourceVersion: '1',
      ...(o.deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
      ...(o.finalizers ? { finalizers: o.finalizers } : {}),
    },
    spec: o.spec ?? { destinations: ['10.0.0.0/8'], gateways: ['10.114.0.2'] },
    ...(o.status ? { status: o.status } : {}),
  };
}
