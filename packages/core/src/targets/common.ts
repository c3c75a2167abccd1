import { z } from 'zod';

/** An absolute http(s) URL's start: scheme, then a host (what a base URL of the API needs). */
export const HTTP_URL_PATTERN = /^https?:\/\/[^/]/i;

/** An http(s) URL that receives a completion event (signed; private targets refused unless allowed). */
export const webhookUrlSchema = z
  .string()
  .max(2000, 'must be at most 2000 characters')
  .url('must be an absolute URL')
  .refine((u) => /^https?:\/\//i.test(u), 'must use http or https');

/** Fields every scan request has, whatever the cloud. */
export const scanRequestCommon = {
  /** Name or id of a configured cloud account. */
  account: z.string().min(1).max(200),
  /** Give up (status failed, reason timed_out) after this long. */
  timeoutSeconds: z.number().int().min(10).max(7 * 24 * 3600).optional(),
  /** Send the completion event here (instead of the account's webhook). */
  webhookUrl: webhookUrlSchema.optional(),
};

/** Account settings every cloud takes: where completion events of its scans go by default. */
export const accountSettingsCommon = {
  webhookUrl: webhookUrlSchema.optional(),
};
