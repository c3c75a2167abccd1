import { z } from 'zod';

/** Fields every scan request has, whatever the cloud. */
export const scanRequestCommon = {
  /** Name or id of a configured cloud account. */
  account: z.string().min(1).max(200),
  /** Give up (status failed, reason timed_out) after this long. */
  timeoutSeconds: z.number().int().min(10).max(7 * 24 * 3600).optional(),
};
