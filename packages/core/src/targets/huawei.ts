import { z } from 'zod';
import { accountSettingsCommon, scanRequestCommon } from './common.js';

/**
 * Huawei Cloud HSS scan target: the request of BatchScanSwrImage
 * (provider-docs/huawei-hss-BatchScanSwrImage.txt), with the seed's own field names and every
 * bound it publishes. Either an image list or `operate_all: true` with the filters.
 */

/** The seed's maximum for `image_size` and the four time filters (it says ms; it is what HSS publishes). */
export const HSS_MAX_LONG_FILTER = 2147483547;
/** `image_info_list` maximum per BatchScanSwrImage call. */
export const HSS_MAX_BATCH_IMAGES = 10241;
export const HSS_BATCH_IMAGE_TYPES = ['private_image', 'shared_image'] as const;
export const HSS_BATCH_SCAN_STATUSES = ['unscan', 'success', 'scanning', 'failed', 'download_failed', 'image_oversized'] as const;

const text = (min: number, max: number) =>
  z
    .string()
    .min(min, min === 0 ? `must be at most ${max} characters` : `must be ${min}–${max} characters`)
    .max(max, `must be ${min}–${max} characters`);
const long = () =>
  z
    .number()
    .int('must be an integer')
    .min(0, `must be 0–${HSS_MAX_LONG_FILTER}`)
    .max(HSS_MAX_LONG_FILTER, `must be 0–${HSS_MAX_LONG_FILTER}`);

/**
 * One BatchScanSwrImageInfo. The seed marks every field optional; scanq tracks each listed
 * image, so namespace, image_name and image_version (which identify it) are required here.
 */
export const huaweiImageInfoSchema = z
  .object({
    namespace: text(1, 64),
    image_name: text(1, 128),
    image_version: text(1, 128),
    /** SWR Enterprise Edition instance; the image is then listed as `instance_image`. */
    instance_id: text(1, 128).optional(),
    instance_url: text(0, 256).optional(),
  })
  .strict();
export type HuaweiImageInfo = z.infer<typeof huaweiImageInfoSchema>;

/** Filters that only apply with `operate_all: true`. */
export const HUAWEI_OPERATE_ALL_FILTERS = [
  'namespace',
  'image_name',
  'image_version',
  'scan_status',
  'latest_version',
  'image_size',
  'start_latest_update_time',
  'end_latest_update_time',
  'start_latest_scan_time',
  'end_latest_scan_time',
] as const;

const huaweiTargetShape = {
  image_type: z.enum(HSS_BATCH_IMAGE_TYPES, { error: (iss) => (iss.input === undefined ? 'is required (private_image or shared_image)' : 'must be private_image or shared_image') }),
  repo_type: z.enum(['SWR'], { error: 'must be SWR (the only repository type HSS connects)' }).optional(),
  enterprise_project_id: text(1, 256).optional(),
  /** The `region` header of the HSS calls; the account's region when left out. */
  region: text(0, 128).optional(),
  image_info_list: z
    .array(huaweiImageInfoSchema)
    .max(HSS_MAX_BATCH_IMAGES, `must list at most ${HSS_MAX_BATCH_IMAGES} images (use operate_all with filters for more)`)
    .optional(),
  operate_all: z.boolean().optional(),
  namespace: text(1, 256).optional(),
  image_name: text(1, 256).optional(),
  image_version: text(1, 256).optional(),
  scan_status: z.enum(HSS_BATCH_SCAN_STATUSES, { error: `must be one of ${HSS_BATCH_SCAN_STATUSES.join(', ')}` }).optional(),
  latest_version: z.boolean().optional(),
  image_size: long().optional(),
  start_latest_update_time: long().optional(),
  end_latest_update_time: long().optional(),
  start_latest_scan_time: long().optional(),
  end_latest_scan_time: long().optional(),
};

type HuaweiTargetFields = { [K in keyof typeof huaweiTargetShape]?: unknown };

/** Cross-field rules: an image list or operate_all (not both), filters only with operate_all, ranges in order. */
function checkTarget(v: HuaweiTargetFields, ctx: z.RefinementCtx): void {
  const listed = Array.isArray(v.image_info_list) && v.image_info_list.length > 0;
  if (v.operate_all === true && listed) {
    ctx.addIssue({ code: 'custom', path: ['image_info_list'], message: 'must be left out when operate_all is true (operate_all scans what the filters select)' });
  }
  if (v.operate_all !== true && !listed) {
    ctx.addIssue({ code: 'custom', path: ['image_info_list'], message: 'needs at least one image unless operate_all is true' });
  }
  if (v.operate_all !== true) {
    for (const f of HUAWEI_OPERATE_ALL_FILTERS) {
      if (v[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'is a filter of operate_all: set operate_all to true or leave it out' });
    }
  }
  for (const [start, end] of [
    ['start_latest_update_time', 'end_latest_update_time'],
    ['start_latest_scan_time', 'end_latest_scan_time'],
  ] as const) {
    const s = v[start];
    const e = v[end];
    if (typeof s === 'number' && typeof e === 'number' && s > 0 && e > 0 && e < s) {
      ctx.addIssue({ code: 'custom', path: [end], message: `must not be before ${start}` });
    }
  }
}

export const huaweiScanTargetSchema = z.object(huaweiTargetShape).strict().superRefine(checkTarget);
export type HuaweiScanTarget = z.infer<typeof huaweiScanTargetSchema>;

/** `POST /v1/scans` with provider `huawei`. */
export const createHuaweiScanSchema = z
  .object({ provider: z.literal('huawei'), ...scanRequestCommon, ...huaweiTargetShape })
  .strict()
  .superRefine(checkTarget);

/**
 * What an HSS account's settings must hold: `projectId`, the project of the account's region
 * (every HSS path starts with it). `collectFindings: false` keeps statuses and counts only (HSS
 * lists findings one image per call).
 */
export const huaweiAccountSettingsSchema = z
  .object({
    ...accountSettingsCommon,
    projectId: z.string({ error: (iss) => (iss.input === undefined ? 'is required (the HSS project id of the region)' : 'must be a string') }).regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 letters, digits, _ or -'),
    collectFindings: z.boolean().optional(),
  })
  .strict();
