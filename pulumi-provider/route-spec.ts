/**
 * A Route whose destinations and gateways may be Outputs (a gateway IP that comes from a Droplet, say). What is
 * known when the component is constructed is checked there; the whole Route is validated by the core, at
 * construction when everything is known, otherwise inside `apply()`, failing the deployment with a
 * ComponentValidationError (a `pulumi.ResourceError`) that names the component.
 */
import * as pulumi from '@pulumi/pulumi';
import * as k8s from '@pulumi/kubernetes';
import { fieldError, parseCidr, parseIp, ROUTE_API_VERSION, ROUTE_KIND, type FieldError, type Route } from '../core/index.js';
import { asComponentError, failOn, knownItems, knownNow, lateChecked } from './errors.js';

/** Destinations and gateways as the components accept them. */
export interface RouteLists {
  readonly destinations: pulumi.Input<pulumi.Input<string>[]>;
  readonly gateways: pulumi.Input<pulumi.Input<string>[]>;
}

/** Per-item checks of the items known now; the field paths are those of the Route object. */
export function knownItemErrors(lists: RouteLists): FieldError[] {
  const errs: FieldError[] = [];
  for (const { index, value } of knownItems(lists.destinations)) {
    const p = parseCidr(value);
    if (!p.ok) errs.push(fieldError(`spec.destinations[${index}]`, 'Invalid', p.reason, value));
  }
  for (const { index, value } of knownItems(lists.gateways)) {
    const p = parseIp(value);
    if (!p.ok) errs.push(fieldError(`spec.gateways[${index}]`, 'Invalid', p.reason, value));
  }
  return errs;
}

/** A Route resolved from inputs: `plain` when every input was known at construction. */
export interface ResolvedRoute {
  readonly route: pulumi.Output<Route>;
  readonly plain?: Route;
}

/** The Route, plain when every input is known now, otherwise an Output validated in apply(). */
export function resolveRoute(
  subject: string,
  resource: pulumi.ComponentResource,
  lists: RouteLists,
  build: (destinations: string[], gateways: string[]) => Route,
): ResolvedRoute {
  const d = knownNow(lists.destinations);
  const g = knownNow(lists.gateways);
  if (d !== undefined && g !== undefined) {
    const plain = asComponentError(subject, resource, () => build(d.map(String), g.map(String)));
    return { route: pulumi.output(plain), plain };
  }
  failOn(subject, knownItemErrors(lists), resource);
  const route = pulumi
    .all([pulumi.output(lists.destinations), pulumi.output(lists.gateways)])
    .apply(([dd, gg]) => asComponentError(subject, resource, () => build([...dd], [...gg])));
  return { route: lateChecked(resource, route) };
}

/**
 * Registers the Route custom resource. When the Route is known now its object is passed as is, so preview shows
 * it whole; otherwise only its spec waits for the Outputs.
 */
export function routeResource(
  name: string,
  r: ResolvedRoute,
  metadata: Route['metadata'],
  opts: pulumi.CustomResourceOptions,
): k8s.apiextensions.CustomResource {
  const obj = r.plain ?? { apiVersion: ROUTE_API_VERSION, kind: ROUTE_KIND, metadata, spec: r.route.spec };
  return new k8s.apiextensions.CustomResource(`${name}-route`, obj as unknown as k8s.apiextensions.CustomResourceArgs, opts);
}
