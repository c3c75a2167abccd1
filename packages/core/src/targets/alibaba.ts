import { z } from 'zod';
import { accountSettingsCommon, scanRequestCommon } from './common.js';

/**
 * Alibaba Cloud SAS scan target: the filters of PublicCreateImageScanTask
 * (provider-docs/alibaba-sas-PublicCreateImageScanTask.txt). The API takes lists; the cloud
 * takes each filter as one comma-joined string, so no value may contain a comma. Filters
 * combine with AND across fields and OR within a field's list; no filter at all means every
 * image the account's Security Center protects.
 */

/** The seed's table "Regions that support image security scanning". */
export const ALIBABA_SCAN_REGIONS = [
  'cn-hangzhou',
  'cn-shanghai',
  'cn-shenzhen',
  'cn-qingdao',
  'cn-beijing',
  'cn-zhangjiakou',
  'cn-huhehaote',
  'cn-hongkong',
  'ap-northeast-1',
  'ap-southeast-5',
  'us-west-1',
  'us-east-1',
  'eu-central-1',
  'eu-west-1',
] as const;
export type AlibabaScanRegion = (typeof ALIBABA_SCAN_REGIONS)[number];

/** Every RegistryType DescribeImageInstances documents: acr, harbor, quay and CI/CD (images scanned in a pipeline). */
export const ALIBABA_REGISTRY_TYPES = ['acr', 'harbor', 'quay', 'CI/CD'] as const;

/** Most values one filter may carry (keeps the joined query string well inside URL limits). */
export const ALIBABA_MAX_FILTER_VALUES = 100;

/** One value of a comma-joined filter: no comma, no surrounding blanks, no control characters. */
const filterValue = (max = 256) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((v) => !v.includes(','), { message: 'must not contain a comma (the cloud receives each filter as one comma-joined string)' })
    .refine((v) => v.trim() === v, { message: 'must not start or end with whitespace' })
    // eslint-disable-next-line no-control-regex
    .refine((v) => !/[\u0000-\u001f\u007f]/.test(v), { message: 'must not contain control characters' });

const filterList = <T extends z.ZodType<string>>(item: T) =>
  z
    .array(item)
    .min(1, 'must list at least one value (leave the field out to not filter on it)')
    .max(ALIBABA_MAX_FILTER_VALUES, `must list at most ${ALIBABA_MAX_FILTER_VALUES} values`)
    .refine((values) => new Set(values).size === values.length, { message: 'must not repeat a value' })
    .optional();

/** An image digest as SAS reports it (64 hex characters), with or without `sha256:`. */
export const ALIBABA_DIGEST_PATTERN = /^(?:sha256:)?[A-Fa-f0-9]{64}$/;

export const alibabaScanTargetSchema = z
  .object({
    registryTypes: filterList(z.enum(ALIBABA_REGISTRY_TYPES, { message: `must be one of ${ALIBABA_REGISTRY_TYPES.join(', ')}` })),
    regionIds: filterList(
      z.enum(ALIBABA_SCAN_REGIONS, { message: `must be a region that supports image security scanning: ${ALIBABA_SCAN_REGIONS.join(', ')}` }),
    ),
    /** Container Registry (ACR) instance ids, or the numeric ids of Harbor/Quay registries. */
    instanceIds: filterList(filterValue(128)),
    repoNamespaces: filterList(filterValue()),
    repoIds: filterList(filterValue(128)),
    repoNames: filterList(filterValue()),
    digests: filterList(z.string().regex(ALIBABA_DIGEST_PATTERN, 'must be a SHA256 digest: 64 hex characters, optionally prefixed sha256:')),
    tags: filterList(filterValue(128)),
  })
  .strict();
export type AlibabaScanTarget = z.infer<typeof alibabaScanTargetSchema>;

/** `POST /v1/scans` with provider `alibaba`. */
export const createAlibabaScanSchema = z.object({ provider: z.literal('alibaba'), ...scanRequestCommon, ...alibabaScanTargetSchema.shape }).strict();

/**
 * What a SAS account's settings may hold. `criteriaInQuery`: send DescribeImageInstances'
 * Criteria in the query string (50 digests a call) rather than the signed form body.
 */
export const alibabaAccountSettingsSchema = z.object({ ...accountSettingsCommon, criteriaInQuery: z.boolean().optional() }).strict();
