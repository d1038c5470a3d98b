/** The `RoutingAgent` construct: kroute's bundled agent (CRD, RBAC, DaemonSet), or nothing on DOKS's managed agent. */
import type { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import {
  agentManifests,
  resolveAgentManifestOptions,
  routeCrd,
  ValidationError,
  withAwaitRollout,
  type AgentManifestOptions,
} from '../core/index.js';
import { manifestObject } from './cluster-scoped.js';
import { Route, type RouteProps } from './route.js';
import { StaticEgress, type StaticEgressProps } from './static-egress.js';

/** Props of a RoutingAgent. Every agent knob (image, namespace, probe interval, table 135, rule 15135, ...) is typed and defaulted in the core. */
export interface RoutingAgentProps extends AgentManifestOptions {
  /**
   * DOKS with DigitalOcean's managed routing agent enabled: DigitalOcean runs the agent and ships the CRD, so only
   * Route objects are emitted. Installing kroute's CRD and agent beside it would collide with DigitalOcean's.
   * @default false
   */
  readonly managed?: boolean;
  /**
   * Emit the Route CRD with CEL validation (Kubernetes 1.31+); false keeps only patterns, for older servers.
   * @default true
   */
  readonly celValidation?: boolean;
  /** Emit the CRD (set false when another tool installs it). @default true unless managed */
  readonly installCrd?: boolean;
  /**
   * For a chart deployed by Pulumi (`kubernetes.yaml` resources): wait for the agent's DaemonSet to roll out.
   * False annotates it `pulumi.com/skipAwait: "true"`, as the Pulumi face does by default (docs/pulumi.md); other
   * tools ignore the annotation.
   * @default false
   */
  readonly awaitRollout?: boolean;
}

/** kroute's routing agent on every node, or, in managed mode, a home for Routes that DigitalOcean's agent applies. */
export class RoutingAgent extends Construct {
  /** True when DigitalOcean's managed agent does the work. */
  readonly managed: boolean;
  /** Every object emitted, in apply order (empty in managed mode). */
  readonly apiObjects: ApiObject[] = [];

  constructor(scope: Construct, id: string, props: RoutingAgentProps = {}) {
    super(scope, id);
    this.managed = props.managed ?? false;
    const r = resolveAgentManifestOptions(props, 'props');
    if (!r.ok) throw new ValidationError(`RoutingAgent "${this.node.path}"`, r.errors);
    if (this.managed) return;
    if (props.installCrd ?? true) {
      this.apiObjects.push(manifestObject(this, 'Crd', routeCrd({ celValidation: props.celValidation ?? true }), true));
    }
    for (const m of withAwaitRollout(agentManifests(r.value), props.awaitRollout)) {
      this.apiObjects.push(manifestObject(this, m.kind, m, m.metadata.namespace === undefined));
    }
  }

  /** Adds a Route that this agent (or DigitalOcean's) applies. */
  addRoute(id: string, props: RouteProps): Route {
    return new Route(this, id, props);
  }

  /** Adds a static egress (a default-route override Route) that this agent (or DigitalOcean's) applies. */
  addStaticEgress(id: string, props: StaticEgressProps): StaticEgress {
    return new StaticEgress(this, id, props);
  }
}
