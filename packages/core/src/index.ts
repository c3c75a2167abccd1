export * from './config.js';
export * from './domain.js';
export * from './errors.js';
export * from './jobs.js';
export * from './schemas.js';
export * from './simulator-accounts.js';
export * from './bulk.js';
export * from './quotas.js';
