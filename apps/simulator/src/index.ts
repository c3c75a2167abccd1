export { startSimulator, type RunningSimulator, type SimulatorOptions } from './core/server.js';
export { createFrontEnds } from './frontends.js';
export type { CallCounterSnapshot } from './core/call-counter.js';
