import { z } from 'zod';
import { accountSettingsCommon, scanRequestCommon } from './common.js';

/**
 * Tencent Cloud TCSS (2020-11-01) scan target: registry images as CreateAssetImageRegistryScanTask
 * names them — by TCSS's numeric registry-image `Id` (the docs call it the repository id;
 * DescribeAssetImageRegistryList returns it), by `ImageId` (the image's sha256 config digest), or
 * by `ImageInfo` (registry instance, namespace, name, tag).
 */

/** Images one request may name in total (each one is a Detail call per poll at 20 requests/s). */
export const TENCENT_MAX_IMAGES = 100;
/** ScanType values of CreateAssetImageRegistryScanTask (example `["CVE","VIRUS","RISK"]`). */
export const TENCENT_SCAN_TYPES = ['CVE', 'VIRUS', 'RISK'] as const;
export const TENCENT_REGISTRY_TYPES = ['ccr', 'tcr'] as const;
/** A Docker image id / digest: `sha256:` and 64 hex digits. */
export const TENCENT_IMAGE_ID_PATTERN = /^sha256:[a-f0-9]{64}$/;
/** Registry namespaces and repository names (Docker distribution grammar, lowercase). */
export const TENCENT_REPOSITORY_PART_PATTERN = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
export const TENCENT_TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

const range = (what: string, min: number, max: number) => `${what} must be ${min}–${max} characters`;

export const tencentImageInfoSchema = z
  .object({
    /** The registry instance name (ImageInfo.InstanceName): `ccr-default` for personal CCR, the TCR instance name otherwise. */
    registry: z.string().min(1, range('registry', 1, 128)).max(128, range('registry', 1, 128)),
    namespace: z
      .string()
      .min(1, range('namespace', 1, 128))
      .max(128, range('namespace', 1, 128))
      .regex(TENCENT_REPOSITORY_PART_PATTERN, 'namespace must be lowercase letters, digits and . _ - separators'),
    name: z
      .string()
      .min(1, range('name', 1, 255))
      .max(255, range('name', 1, 255))
      .regex(TENCENT_REPOSITORY_PART_PATTERN, 'name must be lowercase letters, digits, . _ - separators and / between path parts'),
    tag: z.string().regex(TENCENT_TAG_PATTERN, 'tag must be 1–128 of letters, digits, _ . - and not start with . or -'),
    registryType: z.enum(TENCENT_REGISTRY_TYPES, { message: `registryType must be one of ${TENCENT_REGISTRY_TYPES.join(', ')}` }).optional(),
    /** The TCR instance id, when the instance name alone is ambiguous. */
    instanceId: z.string().min(1, range('instanceId', 1, 64)).max(64, range('instanceId', 1, 64)).optional(),
  })
  .strict();
export type TencentImageInfo = z.infer<typeof tencentImageInfoSchema>;

const listOf = <T extends z.ZodTypeAny>(item: T, what: string) =>
  z
    .array(item)
    .min(1, `${what} must list 1–${TENCENT_MAX_IMAGES} items (leave it out instead of sending an empty list)`)
    .max(TENCENT_MAX_IMAGES, `${what} must list 1–${TENCENT_MAX_IMAGES} items`);

export const tencentScanTargetSchema = z
  .object({
    /** TCSS registry-image ids (`Id`, uint64). */
    repositoryIds: listOf(
      z
        .number({ message: 'each repository id must be a number' })
        .int('each repository id must be an integer')
        .min(1, 'each repository id must be at least 1')
        .max(Number.MAX_SAFE_INTEGER, `each repository id must be at most ${Number.MAX_SAFE_INTEGER}`),
      'repositoryIds',
    ).optional(),
    /** Image ids (`ImageId`, sha256 of the image config). */
    imageIds: listOf(z.string().regex(TENCENT_IMAGE_ID_PATTERN, 'each image id must be sha256: followed by 64 lowercase hex digits'), 'imageIds').optional(),
    /** Images by registry instance / namespace / name / tag. */
    images: listOf(tencentImageInfoSchema, 'images').optional(),
    /** Which TCSS scans to run; all three when left out (the console's full scan). */
    scanTypes: z
      .array(z.enum(TENCENT_SCAN_TYPES, { message: `each scan type must be one of ${TENCENT_SCAN_TYPES.join(', ')}` }))
      .min(1, 'scanTypes must list at least one scan type (leave it out for all three)')
      .max(TENCENT_SCAN_TYPES.length, `scanTypes must list at most ${TENCENT_SCAN_TYPES.length} scan types`)
      .refine((types) => new Set(types).size === types.length, 'scanTypes must not repeat a scan type')
      .optional(),
  })
  .strict();
export type TencentScanTarget = z.infer<typeof tencentScanTargetSchema>;

/** `POST /v1/scans` with provider `tencent`. */
export const createTencentScanSchema = z
  .object({ provider: z.literal('tencent'), ...scanRequestCommon, ...tencentScanTargetSchema.shape })
  .strict()
  .superRefine((req, ctx) => {
    const byId = (req.repositoryIds?.length ?? 0) + (req.imageIds?.length ?? 0);
    const byName = req.images?.length ?? 0;
    if (byId === 0 && byName === 0) {
      ctx.addIssue({ code: 'custom', path: ['repositoryIds'], message: 'name the images: repositoryIds and/or imageIds, or images (registry/namespace/name/tag)' });
    } else if (byId > 0 && byName > 0) {
      ctx.addIssue({ code: 'custom', path: ['images'], message: 'name the images either by id (repositoryIds and/or imageIds) or by name (images), not both' });
    } else if (byId > TENCENT_MAX_IMAGES) {
      ctx.addIssue({ code: 'custom', path: ['imageIds'], message: `repositoryIds and imageIds together must name at most ${TENCENT_MAX_IMAGES} images` });
    }
    if (req.scanTypes && !req.scanTypes.includes('CVE')) {
      ctx.addIssue({ code: 'custom', path: ['scanTypes'], message: 'scanTypes must include CVE: scanq stores vulnerability findings' });
    }
  });

/** What a TCSS account's settings may hold (nothing of its own: region and keys say it all). */
export const tencentAccountSettingsSchema = z.object({ ...accountSettingsCommon }).strict();
