/**
 * Runtime options of the ECR front end. They arrive as `SIM_AWS_*` environment strings at
 * construction and as JSON through `POST /_sim/config/aws`.
 *
 * Validated by hand: zod is not a dependency of apps/simulator (only of @scanq/core).
 */
export interface AwsEcrOptions {
  /** Simulated time a scan stays IN_PROGRESS; 0 completes it at once. */
  scanDurationMs: number;
  /** Fixed findings count per image (benchmarks); `null` derives 0–40 from the digest. */
  findingsPerImage: number | null;
  /** Images in each account's `bench/images` repository. */
  benchImages: number;
  /** How long STS sessions last, whatever DurationSeconds asked (tests of expiry); null: as asked. */
  stsTokenMs: number | null;
  /**
   * Advisories published after the images were scanned: every image's findings gain them (a
   * new CVE in a package every image carries), so a rescan of the same digest finds more.
   */
  advisories: SimAdvisory[];
}

export const ADVISORY_SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const;
export interface SimAdvisory {
  id: string;
  severity: (typeof ADVISORY_SEVERITIES)[number];
  package: string;
}

export const DEFAULT_AWS_ECR_OPTIONS: Readonly<AwsEcrOptions> = {
  scanDurationMs: 3000,
  findingsPerImage: null,
  benchImages: 200,
  stsTokenMs: null,
  advisories: [],
};

const LIMITS = {
  scanDurationMs: { min: 0, max: 7 * 24 * 3600 * 1000 },
  findingsPerImage: { min: 0, max: 100_000 },
  benchImages: { min: 0, max: 1_000_000 },
  stsTokenMs: { min: 1, max: 43_200_000 },
} as const;

/** Options from `SIM_AWS_SCAN_MS`, `SIM_AWS_FINDINGS`, `SIM_AWS_BENCH_IMAGES`, `SIM_AWS_STS_TOKEN_MS`; throws on bad values. */
export function optionsFromEnv(env: Record<string, string>): AwsEcrOptions {
  const options: AwsEcrOptions = { ...DEFAULT_AWS_ECR_OPTIONS };
  const scanMs = nonEmpty(env.SIM_AWS_SCAN_MS);
  const findings = nonEmpty(env.SIM_AWS_FINDINGS);
  const bench = nonEmpty(env.SIM_AWS_BENCH_IMAGES);
  if (scanMs !== undefined) options.scanDurationMs = integer('SIM_AWS_SCAN_MS', Number(scanMs), LIMITS.scanDurationMs);
  if (findings !== undefined) options.findingsPerImage = integer('SIM_AWS_FINDINGS', Number(findings), LIMITS.findingsPerImage);
  if (bench !== undefined) options.benchImages = integer('SIM_AWS_BENCH_IMAGES', Number(bench), LIMITS.benchImages);
  const stsMs = nonEmpty(env.SIM_AWS_STS_TOKEN_MS);
  if (stsMs !== undefined) options.stsTokenMs = integer('SIM_AWS_STS_TOKEN_MS', Number(stsMs), LIMITS.stsTokenMs);
  return options;
}

/** Applies a `configure()` body onto `current`; unknown keys and bad values throw. */
export function mergeOptions(current: AwsEcrOptions, input: Record<string, unknown>): AwsEcrOptions {
  const next: AwsEcrOptions = { ...current };
  for (const [key, value] of Object.entries(input)) {
    switch (key) {
      case 'scanDurationMs':
        next.scanDurationMs = integer(key, value, LIMITS.scanDurationMs);
        break;
      case 'findingsPerImage':
        next.findingsPerImage = value === null ? null : integer(key, value, LIMITS.findingsPerImage);
        break;
      case 'benchImages':
        next.benchImages = integer(key, value, LIMITS.benchImages);
        break;
      case 'stsTokenMs':
        next.stsTokenMs = value === null ? null : integer(key, value, LIMITS.stsTokenMs);
        break;
      case 'advisories':
        next.advisories = advisories(value);
        break;
      default:
        throw new Error(`unknown aws option '${key}' (expected scanDurationMs, findingsPerImage, benchImages, stsTokenMs, advisories)`);
    }
  }
  return next;
}

function advisories(value: unknown): SimAdvisory[] {
  if (!Array.isArray(value) || value.length > 100) throw new Error('advisories must be a list of at most 100 {id, severity, package}');
  return value.map((a: unknown, i) => {
    const { id, severity, package: pkg } = (a ?? {}) as Record<string, unknown>;
    if (typeof id !== 'string' || !/^CVE-\d{4}-\d{4,}$/.test(id)) throw new Error(`advisories[${i}].id must be a CVE id`);
    if (!(ADVISORY_SEVERITIES as readonly unknown[]).includes(severity)) throw new Error(`advisories[${i}].severity must be one of ${ADVISORY_SEVERITIES.join(', ')}`);
    if (typeof pkg !== 'string' || pkg === '') throw new Error(`advisories[${i}].package must be a package name`);
    return { id, severity: severity as SimAdvisory['severity'], package: pkg };
  });
}

function integer(name: string, value: unknown, { min, max }: { min: number; max: number }): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer between ${min} and ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
