import { z } from 'zod';

/**
 * Runtime options of the HSS front end. They arrive as `SIM_HUAWEI_*` strings at construction
 * and as JSON through `POST /_sim/config/huawei`; bad input throws an error naming the option.
 */
export interface HssOptions {
  /** How long an image stays `scanning` before reaching its outcome (SIM_HUAWEI_SCAN_MS). */
  scanDurationMs: number;
  /** Regular images seeded per account, besides the special ones (SIM_HUAWEI_IMAGES). */
  imagesPerAccount: number;
  /** Images an account may put under scan in total before HSS.1002; 0 = unlimited (SIM_HUAWEI_SCAN_QUOTA). */
  scanQuota: number;
  /** Calls per second per account and API before APIG.0308; 0 = no flow control (SIM_HUAWEI_RATE_LIMIT). */
  rateLimitPerSecond: number;
  /**
   * Repositories (the first N complete ones) that also carry a `latest` tag on their newest
   * version's digest, as SWR lists a re-tagged image: one more entry, same digest and image_id
   * (SIM_HUAWEI_LATEST_ALIASES; 0 = none).
   */
  latestAliases: number;
  /** Share of regular images with vulnerabilities, in percent (SIM_HUAWEI_VULNERABLE_PERCENT). */
  vulnerablePercent: number;
  /**
   * Lifetime of agency temporary keys in simulator-clock ms, whatever duration_seconds asks
   * (tests make it short to see keys expire mid-scan); 0: duration_seconds, as real IAM
   * (SIM_HUAWEI_IAM_TTL_MS).
   */
  iamTokenTtlMs: number;
}

export const DEFAULT_OPTIONS: HssOptions = {
  scanDurationMs: 5000,
  imagesPerAccount: 500,
  scanQuota: 0,
  rateLimitPerSecond: 0,
  latestAliases: 0,
  vulnerablePercent: 85,
  iamTokenTtlMs: 0,
};

const OPTIONS: Record<keyof HssOptions, { env: string; max: number }> = {
  scanDurationMs: { env: 'SIM_HUAWEI_SCAN_MS', max: 24 * 3600 * 1000 },
  imagesPerAccount: { env: 'SIM_HUAWEI_IMAGES', max: 1_000_000 },
  scanQuota: { env: 'SIM_HUAWEI_SCAN_QUOTA', max: Number.MAX_SAFE_INTEGER },
  rateLimitPerSecond: { env: 'SIM_HUAWEI_RATE_LIMIT', max: 1_000_000 },
  latestAliases: { env: 'SIM_HUAWEI_LATEST_ALIASES', max: 1_000_000 },
  vulnerablePercent: { env: 'SIM_HUAWEI_VULNERABLE_PERCENT', max: 100 },
  iamTokenTtlMs: { env: 'SIM_HUAWEI_IAM_TTL_MS', max: 86_400_000 },
};

const keys = Object.keys(OPTIONS) as (keyof HssOptions)[];

function schemaOf(field: (max: number) => z.ZodType<number>) {
  return z.object({
    scanDurationMs: field(OPTIONS.scanDurationMs.max),
    imagesPerAccount: field(OPTIONS.imagesPerAccount.max),
    scanQuota: field(OPTIONS.scanQuota.max),
    rateLimitPerSecond: field(OPTIONS.rateLimitPerSecond.max),
    latestAliases: field(OPTIONS.latestAliases.max),
    vulnerablePercent: field(OPTIONS.vulnerablePercent.max),
    iamTokenTtlMs: field(OPTIONS.iamTokenTtlMs.max),
  });
}
/** Environment values are strings: coerce them. */
const envSchema = schemaOf((max) => z.coerce.number().int().min(0).max(max));
/** JSON updates must already be integers; unknown keys are an error. */
const updateSchema = schemaOf((max) => z.number().int().min(0).max(max))
  .partial()
  .strict();

function fail(error: z.ZodError, label: (key: string) => string): never {
  throw new Error(error.issues.map((i) => `${label(String(i.path[0] ?? 'options'))}: ${i.message}`).join('; '));
}

/** Options from the flat `SIM_*` environment map; unset or empty variables keep their defaults. */
export function optionsFromEnv(env: Record<string, string>): HssOptions {
  const input: Record<string, unknown> = { ...DEFAULT_OPTIONS };
  for (const k of keys) {
    const raw = env[OPTIONS[k].env];
    if (raw !== undefined && raw.trim() !== '') input[k] = raw;
  }
  const parsed = envSchema.safeParse(input);
  return parsed.success ? parsed.data : fail(parsed.error, (k) => OPTIONS[k as keyof HssOptions]?.env ?? k);
}

/** Applies a partial update from `/_sim/config/huawei`. */
export function mergeOptions(current: HssOptions, update: Record<string, unknown>): HssOptions {
  const parsed = updateSchema.safeParse(update);
  return parsed.success ? { ...current, ...parsed.data } : fail(parsed.error, (k) => k);
}
