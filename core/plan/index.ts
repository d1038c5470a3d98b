/** The route planner: desired kernel state from Routes, node and host facts, and gateway health. Pure. */
export * from './types.js';
export * from './plan.js';
export * from './protect.js';
export * from './ownership.js';
