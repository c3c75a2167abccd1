/**
 * Options of the Alibaba SAS front end: start-up values from `SIM_ALIBABA_*` variables and
 * runtime changes through `POST /_sim/config/alibaba`. (zod is not a dependency of the
 * simulator package, so the few fields are checked by hand, each failure naming its field.)
 */
export interface AlibabaStartupOptions {
  /** Images seeded per account (`SIM_ALIBABA_IMAGES`). */
  imagesPerAccount: number;
  /** Time from task creation until every image of the task is final (`SIM_ALIBABA_SCAN_MS`). */
  scanDurationMs: number;
  /** Scan tasks an account may have running at once (`SIM_ALIBABA_TASK_LIMIT`). */
  taskLimit: number;
  /** Image scan authorizations each account starts with (`SIM_ALIBABA_AUTHORIZATIONS`). */
  authorizations: number;
  /**
   * Spread of per-image scan times, in percent of `scanDurationMs` (`SIM_ALIBABA_SCAN_SPREAD`):
   * each image takes between (100 − spread) % and 100 % of it. 0: every image takes exactly
   * `scanDurationMs` (benchmarks that need a known task duration).
   */
  scanSpreadPercent: number;
  /** How long STS sessions last whatever DurationSeconds asked (`SIM_ALIBABA_STS_TOKEN_MS`; tests of expiry); null: as asked. */
  stsTokenMs: number | null;
}

/** What `configure()` accepts; every field optional, unknown fields rejected. */
export interface AlibabaRuntimeOptions {
  scanDurationMs?: number;
  scanSpreadPercent?: number;
  taskLimit?: number;
  /** Remaining authorizations, per account name (or one number for every account). */
  authorizations?: number | Record<string, number>;
  /**
   * Accounts whose caller lacks RAM permission: `true` (or `"*"`) denies every SAS action,
   * a list denies only those actions, `false`/`[]` restores permission.
   */
  noPermission?: Record<string, boolean | '*' | string[]>;
  /** STS session lifetime (ms); null: as DurationSeconds asks. */
  stsTokenMs?: number | null;
}

export const DEFAULT_OPTIONS: AlibabaStartupOptions = {
  imagesPerAccount: 120,
  scanDurationMs: 5000,
  taskLimit: 10,
  authorizations: 100_000,
  scanSpreadPercent: 50,
  stsTokenMs: null,
};

function intFrom(raw: unknown, field: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${field} must be an integer between ${min} and ${max}`);
  }
  return n;
}

export function parseStartupOptions(env: Record<string, string>): AlibabaStartupOptions {
  const pick = (name: string, field: string, fallback: number, min: number, max?: number) =>
    env[name] === undefined || env[name] === '' ? fallback : intFrom(env[name], `${name} (${field})`, min, max);
  return {
    imagesPerAccount: pick('SIM_ALIBABA_IMAGES', 'imagesPerAccount', DEFAULT_OPTIONS.imagesPerAccount, 10, 100_000),
    scanDurationMs: pick('SIM_ALIBABA_SCAN_MS', 'scanDurationMs', DEFAULT_OPTIONS.scanDurationMs, 0),
    taskLimit: pick('SIM_ALIBABA_TASK_LIMIT', 'taskLimit', DEFAULT_OPTIONS.taskLimit, 1),
    authorizations: pick('SIM_ALIBABA_AUTHORIZATIONS', 'authorizations', DEFAULT_OPTIONS.authorizations, 0),
    scanSpreadPercent: pick('SIM_ALIBABA_SCAN_SPREAD', 'scanSpreadPercent', DEFAULT_OPTIONS.scanSpreadPercent, 0, 100),
    stsTokenMs: env.SIM_ALIBABA_STS_TOKEN_MS === undefined || env.SIM_ALIBABA_STS_TOKEN_MS === '' ? null : intFrom(env.SIM_ALIBABA_STS_TOKEN_MS, 'SIM_ALIBABA_STS_TOKEN_MS (stsTokenMs)', 1, 43_200_000),
  };
}

const RUNTIME_FIELDS = new Set(['scanDurationMs', 'scanSpreadPercent', 'taskLimit', 'authorizations', 'noPermission', 'stsTokenMs']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates a `configure()` body; `accounts` are the known account names. */
export function parseRuntimeOptions(raw: Record<string, unknown>, accounts: readonly string[]): AlibabaRuntimeOptions {
  for (const key of Object.keys(raw)) {
    if (!RUNTIME_FIELDS.has(key)) throw new Error(`unknown option ${key} (known: ${[...RUNTIME_FIELDS].join(', ')})`);
  }
  const knownAccount = (name: string, field: string) => {
    if (!accounts.includes(name)) throw new Error(`${field}: unknown account ${name} (known: ${accounts.join(', ')})`);
  };
  const out: AlibabaRuntimeOptions = {};
  if (raw.scanDurationMs !== undefined) out.scanDurationMs = intFrom(raw.scanDurationMs, 'scanDurationMs', 0);
  if (raw.scanSpreadPercent !== undefined) out.scanSpreadPercent = intFrom(raw.scanSpreadPercent, 'scanSpreadPercent', 0, 100);
  if (raw.taskLimit !== undefined) out.taskLimit = intFrom(raw.taskLimit, 'taskLimit', 1);
  if (raw.stsTokenMs !== undefined) out.stsTokenMs = raw.stsTokenMs === null ? null : intFrom(raw.stsTokenMs, 'stsTokenMs', 1, 43_200_000);
  if (raw.authorizations !== undefined) {
    if (isRecord(raw.authorizations)) {
      const byAccount: Record<string, number> = {};
      for (const [name, n] of Object.entries(raw.authorizations)) {
        knownAccount(name, 'authorizations');
        byAccount[name] = intFrom(n, `authorizations.${name}`, 0);
      }
      out.authorizations = byAccount;
    } else {
      out.authorizations = intFrom(raw.authorizations, 'authorizations', 0);
    }
  }
  if (raw.noPermission !== undefined) {
    if (!isRecord(raw.noPermission)) throw new Error('noPermission must map account names to true|false|"*"|action[]');
    const denied: Record<string, boolean | '*' | string[]> = {};
    for (const [name, v] of Object.entries(raw.noPermission)) {
      knownAccount(name, 'noPermission');
      if (typeof v === 'boolean' || v === '*') denied[name] = v;
      else if (Array.isArray(v) && v.every((a) => typeof a === 'string')) denied[name] = v as string[];
      else throw new Error(`noPermission.${name} must be true, false, "*" or a list of action names`);
    }
    out.noPermission = denied;
  }
  return out;
}
