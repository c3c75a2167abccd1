import type { CallCounter } from './call-counter.js';
import type { SimClock } from './clock.js';
import type { FaultInjector } from './faults.js';

/** What every front end shares: one clock, one call counter, one fault list, one seed. */
export interface SimContext {
  clock: SimClock;
  calls: CallCounter;
  faults: FaultInjector;
  /** Seed every deterministic value (images, digests, findings) derives from. */
  seed: string;
}
