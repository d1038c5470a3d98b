/** The `RoutingAgent` construct: kroute's bundled agent (CRD, RBAC, DaemonSet), or nothing on DOKS's managed agent. */
import { Chart, type ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { agentInstallManifests, reportInstallManifests, ValidationError } from '../core/index.js';
import { resolveAgentManifestArgs, type AgentManifestArgs } from '../core/face-props.js';
import { manifestObject } from './cluster-scoped.js';
import { Route, type RouteProps } from './route.js';
import { StaticEgress, type StaticEgressProps } from './static-egress.js';

/**
 * Props of a RoutingAgent. Every agent knob (image, namespace, probe interval, table 135, rule 15135, ...) is typed
 * and defaulted in the core; the same flat props as the Pulumi component's args (core/face-props.ts).
 */
export interface RoutingAgentProps extends AgentManifestArgs {
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
    // The chart's namespace, when it has one, is the agent's (and is created unless a system namespace).
    const namespace = props.namespace ?? Chart.of(this).namespace;
    const r = resolveAgentManifestArgs({ ...props, ...(namespace !== undefined ? { namespace } : {}) }, 'props');
    if (!r.ok) throw new ValidationError(`RoutingAgent "${this.node.path}"`, r.errors);
    if (this.managed) return;
    const o = { installCrd: props.installCrd ?? true, celValidation: props.celValidation ?? true, awaitRollout: props.awaitRollout };
    for (const m of agentInstallManifests(r.value, o)) {
      const id = m.kind === 'CustomResourceDefinition' ? 'Crd' : m.kind;
      this.apiObjects.push(manifestObject(this, id, m, m.metadata.namespace === undefined));
    }
    // Per-node reports and the controller that summarizes them (docs/status.md); ids by name, as kinds repeat.
    for (const m of reportInstallManifests(r.value, o)) {
      const id = m.kind === 'CustomResourceDefinition' ? 'ReportCrd' : `${m.kind}-${m.metadata.name}`;
      this.apiObjects.push(manifestObject(this, id, m, m.metadata.namespace === undefined));
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
