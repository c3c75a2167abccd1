import { z } from 'zod';

/**
 * Options of the TCSS front end: from the environment (`SIM_TENCENT_*`, at construction) and at
 * runtime through `POST /_sim/config/tencent` (`{scanDurationMs?, rateLimitPerSecond?, stsTokenTtlMs?}`).
 */
export interface TencentOptions {
  /** How long one image's scan takes, in simulator-clock milliseconds. */
  scanDurationMs: number;
  /** Calls allowed per API per account per wall-clock second ("20 requests per second for this API"). */
  rateLimitPerSecond: number;
  /** Seeded registry images per account (plus 4 special images). Env-only: it needs a re-seed. */
  imagesPerAccount: number;
  /**
   * Share (0–1) of multi-tag repositories whose `latest` tag was pushed as an alias of the newest
   * version: two registry-image entries (two Ids) with one ImageDigest/ImageId, as TCSS lists a
   * manifest under several tags. Env-only (it needs a re-seed); 0 keeps every tag its own build.
   */
  tagAliasShare: number;
  /**
   * Lifetime of STS temporary keys in simulator-clock ms, whatever DurationSeconds asks (tests
   * make it short to see keys expire mid-scan); 0: DurationSeconds, as the real STS.
   */
  stsTokenTtlMs: number;
}

const scanDurationMs = z.coerce.number().int().min(0).max(86_400_000);
const rateLimitPerSecond = z.coerce.number().int().min(1).max(100_000);
const imagesPerAccount = z.coerce.number().int().min(0).max(100_000);
const stsTokenTtlMs = z.coerce.number().int().min(0).max(43_200_000);

const envSchema = z.object({
  SIM_TENCENT_SCAN_MS: scanDurationMs.default(5000),
  SIM_TENCENT_RPS: rateLimitPerSecond.default(20),
  SIM_TENCENT_IMAGES: imagesPerAccount.default(300),
  SIM_TENCENT_TAG_ALIASES: z.coerce.number().min(0).max(1).default(0),
  SIM_TENCENT_STS_TTL_MS: stsTokenTtlMs.default(0),
});

const runtimeSchema = z.strictObject({
  scanDurationMs: scanDurationMs.optional(),
  rateLimitPerSecond: rateLimitPerSecond.optional(),
  stsTokenTtlMs: stsTokenTtlMs.optional(),
});

/** Reads `SIM_TENCENT_*` from the flat env-style map; throws naming the bad variable. */
export function parseTencentEnv(env: Record<string, string>): TencentOptions {
  const relevant = Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('SIM_TENCENT_') && v.trim() !== ''));
  const e = parseOrThrow(envSchema, relevant);
  return { scanDurationMs: e.SIM_TENCENT_SCAN_MS, rateLimitPerSecond: e.SIM_TENCENT_RPS, imagesPerAccount: e.SIM_TENCENT_IMAGES, tagAliasShare: e.SIM_TENCENT_TAG_ALIASES, stsTokenTtlMs: e.SIM_TENCENT_STS_TTL_MS };
}

/** Validates a runtime update; throws on unknown keys or bad values. */
export function parseTencentRuntimeOptions(input: Record<string, unknown>): Partial<TencentOptions> {
  const parsed = parseOrThrow(runtimeSchema, input);
  return Object.fromEntries(Object.entries(parsed).filter(([, v]) => v !== undefined)) as Partial<TencentOptions>;
}

function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => {
    const keys = 'keys' in i && Array.isArray(i.keys) ? ` ${i.keys.join(', ')}` : '';
    return `${i.path.join('.') || 'tencent options'}: ${i.message}${keys}`;
  });
  throw new Error(`invalid tencent options: ${issues.join('; ')}`);
}
