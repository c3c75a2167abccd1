import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Static secret sets (credentialRef → secrets) as a worker sees them: SCANQ_CREDENTIALS (read
 * once, with the rest of the environment) and SCANQ_CREDENTIALS_FILE, re-read when it changes.
 * It lives in core because it is configuration: core is the one layer that reads the
 * environment and what the operator mounts beside it; services only ask `get(name)`.
 *
 * SCANQ_CREDENTIALS_FILE is either
 * - a JSON file of the SCANQ_CREDENTIALS shape (`{"<set>": {"<key>": "<secret>", …}, …}`), or
 * - a directory holding one file per set, named by the set, each a JSON object of its secrets:
 *   a Kubernetes Secret mounted as a volume, one Secret key per set
 *   (`kubectl create secret generic scanq-credentials --from-file=aws-prod=aws-prod.json`).
 *   Names starting with `.` are skipped (the kubelet's `..data` and timestamped directories).
 *
 * The path is looked at on use, at most once per `checkEveryMs`: its files' identity (device,
 * inode, size, mtime, ctime — stat follows symlinks) decides whether to read again. The kubelet
 * updates a mounted Secret by swapping the `..data` symlink to a new directory; the file names
 * stay, their targets change, so the swap shows as a new identity. A file or directory that
 * cannot be read or parsed keeps the last good sets and is reported once per change
 * (`onError`). A set named in both the file and SCANQ_CREDENTIALS comes from the file.
 */
export interface CredentialSets {
  get(name: string): Record<string, string> | undefined;
}

const setSchema = z.record(z.string(), z.string());
const setsSchema = z.record(z.string(), setSchema);

export interface CredentialFileOptions {
  /** How often the path may be looked at (stat) on use. Default 1000 ms. */
  checkEveryMs?: number;
  /** A change that could not be read: the last good sets stay. */
  onError?: (err: Error) => void;
  /** A change read: the set names now known (never their secrets). */
  onReload?: (names: string[]) => void;
}

export class CredentialFileError extends Error {
  override name = 'CredentialFileError';
}

export class FileBackedCredentialSets implements CredentialSets {
  private fileSets = new Map<string, Record<string, string>>();
  /** Identity of what was last looked at (read or refused): unchanged → nothing to do. */
  private seen: string | undefined;
  private checkedAt = -Infinity;
  private readonly checkEveryMs: number;

  constructor(
    private readonly envSets: Record<string, Record<string, string>>,
    private readonly path: string | undefined,
    private readonly options: CredentialFileOptions = {},
  ) {
    this.checkEveryMs = options.checkEveryMs ?? 1_000;
    this.refresh(true);
  }

  get(name: string): Record<string, string> | undefined {
    this.refresh();
    return this.fileSets.get(name) ?? (Object.hasOwn(this.envSets, name) ? this.envSets[name] : undefined);
  }

  /** Names of every set known now (file and env). */
  names(): string[] {
    this.refresh();
    return [...new Set([...this.fileSets.keys(), ...Object.keys(this.envSets)])].sort();
  }

  /** Looks at the path (throttled unless `force`) and reads it when it changed. */
  refresh(force = false): void {
    if (!this.path) return;
    const now = performance.now();
    if (!force && now - this.checkedAt < this.checkEveryMs) return;
    this.checkedAt = now;
    let identity: string;
    try {
      identity = this.identity(this.path);
    } catch (err) {
      this.refused(`stat:${(err as NodeJS.ErrnoException).code ?? 'error'}`, err);
      return;
    }
    if (identity === this.seen) return;
    try {
      const sets = this.read(this.path);
      this.seen = identity;
      this.fileSets = sets;
      this.options.onReload?.([...sets.keys()].sort());
    } catch (err) {
      this.refused(identity, err);
    }
  }

  private refused(identity: string, err: unknown): void {
    if (identity === this.seen) return;
    this.seen = identity;
    const message = err instanceof Error ? err.message : String(err);
    this.options.onError?.(new CredentialFileError(`SCANQ_CREDENTIALS_FILE ${this.path}: ${message}; keeping the ${this.fileSets.size} set(s) read before`));
  }

  private identity(path: string): string {
    const stamp = (p: string) => {
      const s = statSync(p);
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}:${s.isDirectory() ? 'd' : 'f'}`;
    };
    const top = statSync(path);
    if (!top.isDirectory()) return stamp(path);
    return this.entries(path)
      .map((name) => `${name}=${stamp(join(path, name))}`)
      .join('|');
  }

  private entries(dir: string): string[] {
    return readdirSync(dir)
      .filter((name) => !name.startsWith('.'))
      .filter((name) => {
        try {
          return statSync(join(dir, name)).isFile();
        } catch {
          return false; // a dangling symlink mid-swap: seen on the next look
        }
      })
      .sort();
  }

  private read(path: string): Map<string, Record<string, string>> {
    if (!statSync(path).isDirectory()) {
      const parsed = setsSchema.safeParse(parseJson(readFileSync(path, 'utf8'), 'the file'));
      if (!parsed.success) throw new CredentialFileError(`must map set names to objects of string secrets (${describe(parsed.error)})`);
      return new Map(Object.entries(parsed.data));
    }
    const sets = new Map<string, Record<string, string>>();
    for (const name of this.entries(path)) {
      const parsed = setSchema.safeParse(parseJson(readFileSync(join(path, name), 'utf8'), `set "${name}"`));
      if (!parsed.success) throw new CredentialFileError(`set "${name}" must be a JSON object of string secrets (${describe(parsed.error)})`);
      sets.set(name, parsed.data);
    }
    return sets;
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // The parser's message only: it never quotes the secret text itself beyond a position.
    throw new CredentialFileError(`${what} is not valid JSON (${(err as Error).message.replace(/".*"/s, '…')})`);
  }
}

/** Where the shape is wrong, never the values (they are secrets). */
function describe(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.code}`).join('; ');
}
