/** kroute's core: the Route API, its validation, node selection, the CRD and the agent's manifests. Pure. */
export * from './errors.js';
export * from './ip.js';
export * from './limits.js';
export * from './route.js';
export * from './validate.js';
export * from './selector.js';
export * from './selectors.js';
export * from './manifest.js';
export * from './crd.js';
export * from './options.js';
export * from './image.js';
export * from './agent-manifests.js';
export * from './rollout.js';
export * from './egress.js';
export * from './plan/index.js';
