/**
 * The Pulumi program of the real-engine test: the README's Pulumi example (examples/pulumi-k8s: a RoutingAgent,
 * a Route to a VPN range for labelled nodes, a static egress for one node pool), with an explicit Kubernetes
 * provider pinned to the plugin that is built here, and the addresses of the test topology. `spec` varies it
 * between runs (a knob, a Route's gateways, a Route whose gateway turns out bad only at deployment).
 */
import { readFileSync } from 'node:fs';
import * as k8s from '@pulumi/kubernetes';
import * as pulumi from '@pulumi/pulumi';
import { EgressScope, NodeSelectors, Route, RoutingAgent, StaticEgress } from '../../pulumi-provider/index.js';

/** What changes between runs of the program. */
export interface ProgramSpec {
  /** Admin kubeconfig of the test API server (read here, never an ambient KUBECONFIG). */
  readonly kubeconfig: string;
  /** The Kubernetes provider plugin's version (the SDK's own 4.34.x has no plugin here). */
  readonly providerVersion: string;
  readonly probeIntervalSeconds: number;
  readonly awaitRollout?: boolean;
  readonly vpnGateways: readonly string[];
  readonly egressGateways: readonly string[];
  /**
   * Adds Route `late-bad` whose gateway is this value, read back from a ConfigMap's data: known only once the
   * ConfigMap is created, so it is checked in apply(), during `up`. A ConfigMap `behind-late` depends on it. Both
   * ConfigMaps have fixed names, so a test can look for them.
   */
  readonly lateGateway?: string;
}

/** The program for `spec`; its outputs are what the agent installed and the Routes' canonical fields. */
export function program(spec: ProgramSpec): () => Promise<Record<string, unknown>> {
  return async () => {
    const provider = new k8s.Provider('k8s', { kubeconfig: readFileSync(spec.kubeconfig, 'utf8') }, { version: spec.providerVersion });
    const agent = new RoutingAgent('kroute', {
      agent: { probeIntervalSeconds: spec.probeIntervalSeconds },
      ...(spec.awaitRollout !== undefined ? { awaitRollout: spec.awaitRollout } : {}),
    }, { provider });
    // After the agent's objects (not its rollout: awaitRollout is false by default); destroy deletes them first.
    const vpn = new Route('vpn', {
      destinations: ['10.20.0.0/16'],
      gateways: [...spec.vpnGateways],
      nodeSelector: NodeSelectors.labels({ 'kroute.io/vpn': 'true' }),
    }, { provider, dependsOn: [agent] });
    const egress = new StaticEgress('egress', {
      gateways: [...spec.egressGateways],
      scope: EgressScope.NODE_POOLS,
      nodePools: ['egress'],
    }, { provider, dependsOn: [agent] });
    if (spec.lateGateway !== undefined) {
      const source = new k8s.core.v1.ConfigMap('late-source', { metadata: { name: 'late-source', namespace: 'default' }, data: { gateway: spec.lateGateway } }, { provider });
      const late = new Route('late-bad', {
        destinations: ['172.30.0.0/16'],
        gateways: [source.data.apply((d) => d['gateway'] ?? '')],
      }, { provider, dependsOn: [agent] });
      new k8s.core.v1.ConfigMap('behind-late', { metadata: { name: 'behind-late', namespace: 'default' }, data: { after: 'late-bad' } }, { provider, dependsOn: [late] });
    }
    return {
      objects: agent.objects,
      vpnGateways: vpn.gateways,
      egressDestinations: egress.destinations,
      crdName: pulumi.output(agent.crdName),
    };
  };
}
