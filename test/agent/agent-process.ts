/**
 * The agent as a process in the DigitalOcean-shaped topology: the entry points the tests have always used, over the
 * lab's agent helper (test/lab/agent.ts).
 */
import type { Netns } from '../net/netns.js';
import type { Topology } from '../net/topology.js';
import { defaultAgentArgs as labArgs, startAgent as labStart, type AgentProcess, type StartAgentProps } from '../lab/agent.js';

export {
  AGENT_MAIN, DAEMONSET_NODE_OPTIONS, KROUTE_PROTO, ownedRoute, ownedRoutes, REPO_ROOT, routesDir, routeYaml, writeRoutes,
  type AgentProcess, type LogLine, type SimpleRoute, type StartAgentProps,
} from '../lab/agent.js';

/** Throws unless `ns` is a namespace of this test topology and not the machine's own. */
export function assertTestNamespace(topo: Topology, ns: Netns): void {
  topo.built.assertOwned(ns);
}

/** The default flags of a test agent: fast probes, no HTTP ports, the topology's resolv.conf. */
export function defaultAgentArgs(topo: Topology, routesDir: string): string[] {
  return labArgs(topo.built, routesDir);
}

/** Starts the agent in the topology's node namespace (`ip netns exec NODE node lib/agent/main.js ...`). */
export function startAgent(topo: Topology, routesDir: string, props: StartAgentProps = {}): AgentProcess {
  return labStart(topo.built, { ...props, routes: routesDir });
}
