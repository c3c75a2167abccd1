import { z } from 'zod';
import { scanRequestCommon } from './common.js';

/** Huawei scan target. Placeholder shape until the huawei adapter lands: accepts nothing beyond the common fields. */
export const huaweiScanTargetSchema = z.object({}).strict();
export type HuaweiScanTarget = z.infer<typeof huaweiScanTargetSchema>;

/** `POST /v1/scans` with provider `huawei`. Cross-field rules go in a `.superRefine` here. */
export const createHuaweiScanSchema = z.object({ provider: z.literal('huawei'), ...scanRequestCommon, ...huaweiScanTargetSchema.shape }).strict();
