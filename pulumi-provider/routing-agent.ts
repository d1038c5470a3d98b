/**
 * The `RoutingAgent` component: kroute's bundled agent (CRD, RBAC, DaemonSet) as typed `@pulumi/kubernetes`
 * resources built from the core's objects, or, in managed mode, nothing at all.
 */
import * as pulumi from '@pulumi/pulumi';
import {
  AGENT_OPTIONS,
  agentInstallManifests,
  reportInstallManifests,
  ROUTE_GROUP,
  ROUTE_PLURAL,
  AWAIT_ROLLOUT_DEFAULT,
  type Manifest,
} from '../core/index.js';
import { resolveAgentManifestArgs, type AgentManifestArgs } from './agent-args.js';
import { failOn } from './errors.js';
import { manifestResource } from './kubernetes-objects.js';

/** Args of a RoutingAgent: every knob of the bundled agent's manifests, typed and defaulted in the core. */
export interface RoutingAgentArgs extends AgentManifestArgs {
  /**
   * DOKS with DigitalOcean's managed routing agent enabled (`routingAgent: {enabled: true}`): DigitalOcean runs
   * the agent and ships the Route CRD, so this component creates nothing and Routes are simply created beside it
   * (with `dependsOn: [agent]`). Installing kroute's CRD and agent next to DigitalOcean's would collide; the
   * `DoksCluster` helper refuses that combination.
   * @default false
   */
  readonly managed?: boolean;
  /** Emit the Route CRD with CEL validation (Kubernetes 1.31+); false keeps only patterns. @default true */
  readonly celValidation?: boolean;
  /** Install the CRD (false when another tool installs it). @default true */
  readonly installCrd?: boolean;
  /**
   * Wait for the agent's DaemonSet to roll out (every scheduled Pod ready) before the component counts as created,
   * as Pulumi's Kubernetes provider does by default (up to 10 minutes, then the update fails). False annotates the
   * DaemonSet `pulumi.com/skipAwait: "true"`: the agent's Pods come up when their image is pulled and their node is
   * ready, and apply every Route that exists by then, so Routes created with `dependsOn: [agent]` wait only for the
   * agent's objects to exist (the CRD Established). Set true to make an update fail when the agent does not roll
   * out; then everything that depends on the agent waits for the rollout too.
   * @default false
   */
  readonly awaitRollout?: boolean;
}

/** The core's manifests for these args, in apply order (CRD first); empty in managed mode. Throws on bad args. */
export function routingAgentManifests(args: RoutingAgentArgs, subject: string, resource?: pulumi.Resource): Manifest[] {
  const r = resolveAgentManifestArgs(args, 'args');
  if (!r.ok) failOn(subject, r.errors, resource);
  if (!r.ok || (args.managed ?? false)) return [];
  return agentInstallManifests(r.value, { installCrd: args.installCrd ?? true, celValidation: args.celValidation ?? true, awaitRollout: args.awaitRollout ?? AWAIT_ROLLOUT_DEFAULT });
}

/**
 * Per-node reporting's objects (docs/status.md): the RouteReport CRD (with the Route CRD), the agent's report RBAC
 * and policy, the controller. Children are named `${parent}-${object name}-${kind suffix}`: kinds repeat here.
 */
export function routingAgentReportManifests(args: RoutingAgentArgs): Manifest[] {
  const r = resolveAgentManifestArgs(args, 'args');
  if (!r.ok || (args.managed ?? false)) return [];
  return reportInstallManifests(r.value, { installCrd: args.installCrd ?? true, awaitRollout: args.awaitRollout ?? AWAIT_ROLLOUT_DEFAULT });
}

/** kroute's routing agent on every node, or, in managed mode, a place for Routes that DigitalOcean's agent applies. */
export class RoutingAgent extends pulumi.ComponentResource {
  /** True when DigitalOcean's managed agent does the work and nothing was installed. */
  readonly managed: pulumi.Output<boolean>;
  /** Name of the Route CRD (installed here, or by DigitalOcean in managed mode). */
  readonly crdName: pulumi.Output<string>;
  /** Namespace of the bundled agent; empty in managed mode. */
  readonly namespace: pulumi.Output<string>;
  /** `Kind/namespace/name` of every object installed, in apply order; empty in managed mode. */
  readonly objects: pulumi.Output<string[]>;
  constructor(name: string, args: RoutingAgentArgs, opts?: pulumi.ComponentResourceOptions) {
    super('kroute:index:RoutingAgent', name, {}, opts);
    const managed = args.managed ?? false;
    const manifests = routingAgentManifests(args, `RoutingAgent "${name}"`, this);
    let previous: pulumi.Resource | undefined;
    for (const m of manifests) {
      // Each object after the one before: the CRD exists before anything could watch Routes.
      previous = manifestResource(name, m, { parent: this, ...(previous ? { dependsOn: [previous] } : {}) });
    }
    const reports = routingAgentReportManifests(args);
    for (const m of reports) previous = manifestResource(`${name}-${m.metadata.name}`, m, { parent: this, ...(previous ? { dependsOn: [previous] } : {}) });
    if (managed) warnIgnoredInManaged(name, args, this);
    else warnOnSymmetricClash(name, args, this);
    this.managed = pulumi.output(managed);
    this.crdName = pulumi.output(`${ROUTE_PLURAL}.${ROUTE_GROUP}`);
    this.namespace = pulumi.output(managed ? '' : (args.namespace ?? 'kube-system'));
    this.objects = pulumi.output([...manifests, ...reports].map((m) => `${m.kind}/${m.metadata.namespace ?? ''}/${m.metadata.name}`));
    this.registerOutputs({ managed: this.managed, crdName: this.crdName, namespace: this.namespace, objects: this.objects });
  }

}

function warnIgnoredInManaged(name: string, args: RoutingAgentArgs, resource: pulumi.Resource): void {
  const knobs = Object.entries(args).filter(([k, v]) => v !== undefined && !['managed', 'celValidation', 'installCrd'].includes(k));
  if (knobs.length > 0) {
    void pulumi.log.warn(
      `RoutingAgent "${name}": managed mode installs nothing, so ${knobs.map(([k]) => k).join(', ')} ` +
        'have no effect (DigitalOcean configures its own agent).',
      resource,
    );
  }
}

/**
 * DigitalOcean's agent keeps symmetric routing in table 135 behind rule priority 15135, and kroute's agent uses the
 * same pair by default so the two never both exist. Moving only one of them leaves a rule at 15135 that points
 * elsewhere, or table 135 under another priority: a clash with what DOKS nodes already carry.
 */
function warnOnSymmetricClash(name: string, args: RoutingAgentArgs, resource: pulumi.Resource): void {
  const table = args.agent?.symmetricTable ?? AGENT_OPTIONS.symmetricTable.default;
  const priority = args.agent?.symmetricRulePriority ?? AGENT_OPTIONS.symmetricRulePriority.default;
  const doksTable = AGENT_OPTIONS.symmetricTable.default;
  const doksPriority = AGENT_OPTIONS.symmetricRulePriority.default;
  if ((table === doksTable) !== (priority === doksPriority)) {
    void pulumi.log.warn(
      `RoutingAgent "${name}": symmetric routing uses table ${table} with rule priority ${priority}; DigitalOcean's ` +
        `routing agent uses table ${doksTable} with priority ${doksPriority}. Changing only one of the pair clashes ` +
        'with the rule DOKS nodes carry: change both, or neither.',
      resource,
    );
  }
}
