/** The `Route` component: one Route custom resource, validated by the core, with Output-valued inputs allowed. */
import * as pulumi from '@pulumi/pulumi';
import { canonicalSpec, routeObject, validateRoute, ValidationError } from '../core/index.js';
import { awaitLateChecks } from './errors.js';
import { routeResource, resolveRoute } from './route-spec.js';
import { coreSelector, type NodeSelectorArgs } from './selectors.js';

/** Args of a Route. */
export interface RouteArgs {
  /** Object name of the Route (`metadata.name`). @default the component's name */
  readonly routeName?: string;
  /** Destination CIDRs; `0.0.0.0/0` or `::/0` overrides the default route. Host bits are cleared. */
  readonly destinations: pulumi.Input<pulumi.Input<string>[]>;
  /** Next-hop addresses; several make one equal-cost multipath route. May come from other resources. */
  readonly gateways: pulumi.Input<pulumi.Input<string>[]>;
  /** Which nodes get the route. @default every node */
  readonly nodeSelector?: NodeSelectorArgs;
  /** Labels on the Route object. @default {} */
  readonly labels?: { [key: string]: string };
}

/** A Route custom resource (networking.doks.digitalocean.com/v1alpha1), applied by kroute's agent or DigitalOcean's. */
export class Route extends pulumi.ComponentResource {
  /** The Route's object name. */
  readonly routeName: pulumi.Output<string>;
  /** Destinations in canonical form. */
  readonly destinations: pulumi.Output<string[]>;
  /** Gateways in canonical form. */
  readonly gateways: pulumi.Output<string[]>;

  /** Waits for the checks of values known only at deployment, so what depends on this fails with their error. */
  protected override async initialize(): Promise<unknown> {
    await awaitLateChecks(this);
    return undefined;
  }

  constructor(name: string, args: RouteArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kroute:index:Route', name, {}, opts);
    const objectName = args.routeName ?? name;
    const meta = args.labels ? { labels: args.labels } : {};
    const r = resolveRoute(`Route "${name}"`, this, args, (destinations, gateways) => {
      const raw = routeObject(objectName, {
        destinations,
        gateways,
        ...(args.nodeSelector ? { nodeSelector: coreSelector(args.nodeSelector) } : {}),
      }, meta);
      const v = validateRoute(raw);
      if (!v.ok) throw new ValidationError(`Route "${name}"`, v.errors);
      return routeObject(objectName, canonicalSpec(v.value), meta);
    });
    routeResource(name, r, { name: objectName, ...meta }, { parent: this });
    this.routeName = pulumi.output(objectName);
    this.destinations = r.route.apply((x) => [...x.spec.destinations]);
    this.gateways = r.route.apply((x) => [...x.spec.gateways]);
    this.registerOutputs({ routeName: this.routeName, destinations: this.destinations, gateways: this.gateways });
  }
}
