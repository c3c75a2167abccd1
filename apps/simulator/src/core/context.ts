import type { CallCounter } from './call-counter.js';
import type { SimClock } from './clock.js';
import type { FaultInjector } from './faults.js';
import type { CannedReplies } from './replies.js';

/** What every front end shares: one clock, one call counter, one fault list, one seed. */
export interface SimContext {
  clock: SimClock;
  calls: CallCounter;
  faults: FaultInjector;
  /** Verbatim answers armed through `POST /_sim/replies` (documented examples). */
  replies: CannedReplies;
  /** Seed every deterministic value (images, digests, findings) derives from. */
  seed: string;
}
