/**
 * Network-namespace primitives for tests; they live in the test lab (test/lab/netns.ts) and are re-exported here
 * for the tests that import them from this path.
 */
export { hasCommand, must, Netns, NetnsLab, netnsPath, run, sweepCrashedRuns, type Exec } from '../lab/netns.js';
