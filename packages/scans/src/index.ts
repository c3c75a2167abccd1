export { AccountResolver } from './account-resolver.js';
export { SubmitService, SubmitError } from './submit.service.js';
export { ScanLifecycleService, type LifecycleOptions } from './lifecycle.service.js';
export { ReconcileService, type ReconcileReport } from './reconcile.service.js';
export { DirectStartPolicy, type StartPolicy, type StartOutcome, toImageRef } from './start-policies/start-policy.js';
export { AwsScanWindowPolicy } from './start-policies/aws-scan-window.policy.js';
export { createRuntime, createLogger, REDACT_PATHS, type ScanqRuntime } from './runtime.js';
