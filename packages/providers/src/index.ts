export * from './contract.js';
export { createProviders } from './registry.js';
