import { z } from 'zod';
import { scanRequestCommon } from './common.js';

/** Tencent scan target. Placeholder shape until the tencent adapter lands: accepts nothing beyond the common fields. */
export const tencentScanTargetSchema = z.object({}).strict();
export type TencentScanTarget = z.infer<typeof tencentScanTargetSchema>;

/** `POST /v1/scans` with provider `tencent`. Cross-field rules go in a `.superRefine` here. */
export const createTencentScanSchema = z.object({ provider: z.literal('tencent'), ...scanRequestCommon, ...tencentScanTargetSchema.shape }).strict();
