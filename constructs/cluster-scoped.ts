/** Works around cdk8s stamping a chart's namespace onto cluster-scoped objects (cdk8s-core#731). */
import { ApiObject, Chart, JsonPatch } from 'cdk8s';

/** Removes `metadata.namespace` that the chart would add to a cluster-scoped object. */
export function keepClusterScoped(obj: ApiObject): void {
  if (Chart.of(obj).namespace !== undefined) obj.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
}

/** Turns a core manifest into an ApiObject under `scope`. */
export function manifestObject(
  scope: import('constructs').Construct,
  id: string,
  m: { readonly apiVersion: string; readonly kind: string; readonly metadata: object },
  clusterScoped: boolean,
): ApiObject {
  const { apiVersion, kind, metadata, ...rest } = m as { apiVersion: string; kind: string; metadata: object } & Record<string, unknown>;
  const obj = new ApiObject(scope, id, { apiVersion, kind, metadata, ...rest });
  if (clusterScoped) keepClusterScoped(obj);
  return obj;
}
