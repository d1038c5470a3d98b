/** kroute's node agent as a library: the loop, its adapters and its seams (the `kroute-agent` binary is main.js). */
export * from './ports.js';
export * from './log.js';
export { runAgent, type RunningAgent } from './run.js';
export { Reconciler, type ReconcilerProps } from './reconciler.js';
export { FileSource, parseRouteFile, parseNodeLabels, type FileSourceProps } from './file-source.js';
export { LogReporter } from './log-reporter.js';
export { AddressControlPlane } from './file-control-plane.js';
export { Prober, PROBER_CANARY, type ProberProps } from './prober.js';
export { IprouteKernel, type IprouteKernelProps } from './kernel/iproute.js';
export { diffKernel, type KernelOp, type DesiredKernel } from './kernel/diff.js';
export type { KernelPort, ApplyReport, KernelOpResult } from './kernel/port.js';
export { SysctlWriter } from './kernel/sysctl.js';
export { HostDiscovery } from './host.js';
export { AgentMetrics } from './metrics.js';
