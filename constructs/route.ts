/** The `Route` construct: one Route custom resource, validated at synth time. */
import { Names, type ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { canonicalSpec, routeObject, ValidationError, validateRoute } from '../core/index.js';
import { manifestObject } from './cluster-scoped.js';
import { coreSelector } from '../core/face-props.js';
import type { NodeSelector } from './node-selector.js';

/** Props of a Route. */
export interface RouteProps {
  /** Object name. @default a DNS-safe name derived from the construct path */
  readonly name?: string;
  /** Destination CIDRs; `0.0.0.0/0` or `::/0` overrides the default route. Host bits are cleared. */
  readonly destinations: string[];
  /** Next-hop addresses; several make one equal-cost multipath route. */
  readonly gateways: string[];
  /** Which nodes get the route. @default every node */
  readonly nodeSelector?: NodeSelector;
  /** Labels on the Route object. @default {} */
  readonly labels?: Record<string, string>;
}

/** A Route custom resource (networking.doks.digitalocean.com/v1alpha1), readable by DigitalOcean's managed agent too. */
export class Route extends Construct {
  /** The Route's object name. */
  readonly name: string;
  /** The synthesized object. */
  readonly apiObject: ApiObject;

  constructor(scope: Construct, id: string, props: RouteProps) {
    super(scope, id);
    this.name = props.name ?? Names.toDnsLabel(this);
    const raw = routeObject(
      this.name,
      {
        destinations: props.destinations,
        gateways: props.gateways,
        ...(props.nodeSelector ? { nodeSelector: coreSelector(props.nodeSelector.spec) } : {}),
      },
      props.labels ? { labels: props.labels } : {},
    );
    const v = validateRoute(raw);
    if (!v.ok) throw new ValidationError(`Route "${this.node.path}"`, v.errors);
    const obj = routeObject(this.name, canonicalSpec(v.value), props.labels ? { labels: props.labels } : {});
    this.apiObject = manifestObject(this, 'Resource', obj, true);
  }
}
