import { z } from 'zod';
import { scanRequestCommon } from './common.js';

/** Alibaba scan target. Placeholder shape until the alibaba adapter lands: accepts nothing beyond the common fields. */
export const alibabaScanTargetSchema = z.object({}).strict();
export type AlibabaScanTarget = z.infer<typeof alibabaScanTargetSchema>;

/** `POST /v1/scans` with provider `alibaba`. Cross-field rules go in a `.superRefine` here. */
export const createAlibabaScanSchema = z.object({ provider: z.literal('alibaba'), ...scanRequestCommon, ...alibabaScanTargetSchema.shape }).strict();
