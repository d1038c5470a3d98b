/**
 * The DigitalOcean-shaped topology in a Jest file, in one line: `const topo = useTopology({ gateways: 2 })` builds it
 * before the file's tests, stops the agents started in it and destroys it after them, and prints it when a test
 * failed (test/lab/jest.ts).
 */
import { useBuilt } from '../lab/jest.js';
import { buildTopology, type Topology, type TopologyProps } from './topology.js';

/** Builds the topology for the file's tests. */
export function useTopology(props: TopologyProps = {}): Topology {
  return useBuilt('the topology', () => buildTopology(props), (t) => t.built);
}
