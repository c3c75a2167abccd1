import { z } from 'zod';
import { accountSettingsCommon, scanRequestCommon } from './common.js';

/** AWS ECR scan target: rules from the StartImageScan contract (provider-docs/aws-ecr-StartImageScan.txt). */
export const ECR_REPOSITORY_NAME_PATTERN = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const ECR_REGISTRY_ID_PATTERN = /^[0-9]{12}$/;
/** OCI digest grammar: algorithm ":" hex. */
export const IMAGE_DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-fA-F0-9]{32,}$/;
export const IMAGE_TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export const awsImageIdSchema = z
  .object({
    imageDigest: z.string().regex(IMAGE_DIGEST_PATTERN, 'must be a digest like sha256:<hex>').optional(),
    imageTag: z.string().min(1).max(300).regex(IMAGE_TAG_PATTERN, 'must be a valid image tag').optional(),
  })
  .strict()
  .refine((v) => v.imageDigest !== undefined || v.imageTag !== undefined, {
    message: 'needs imageDigest or imageTag (at least one)',
  })
  .describe('At least one of imageDigest and imageTag (a tag is resolved to its digest; with both, they must match)');

export const awsScanTargetSchema = z
  .object({
    repositoryName: z
      .string()
      .min(2, 'must be 2–256 characters')
      .max(256, 'must be 2–256 characters')
      .regex(ECR_REPOSITORY_NAME_PATTERN, 'must match the ECR repository pattern (lowercase, /-separated)'),
    registryId: z.string().regex(ECR_REGISTRY_ID_PATTERN, 'must be exactly 12 digits').optional(),
    imageId: awsImageIdSchema,
  })
  .strict();
export type AwsScanTarget = z.infer<typeof awsScanTargetSchema>;


export const createAwsScanSchema = z.object({ provider: z.literal('aws'), ...scanRequestCommon, ...awsScanTargetSchema.shape }).strict();

/** What an ECR account's settings may hold: the registry scans default to (else the caller's own). */
export const awsAccountSettingsSchema = z
  .object({ ...accountSettingsCommon, registryId: z.string().regex(ECR_REGISTRY_ID_PATTERN, 'must be exactly 12 digits').optional() })
  .strict();
