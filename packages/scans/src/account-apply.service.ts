import type { ApplyAccountEntry, ApplyAccountsRequest, ApplyAccountsResult, ApplyAction } from '@scanq/core';
import type { AccountChangeSet, AccountRepository, CloudAccount } from '@scanq/db';

/**
 * `scanq accounts apply`: the accounts file is the desired set. Each entry (matched by provider
 * and name) is created or brought to exactly what the file says; with `prune`, accounts the file
 * does not list are deleted — unless they have scans, which refuses the whole apply (their
 * history stays; see AccountsInUseError). All in one transaction; `dryRun` only reports.
 */
export class AccountApplyService {
  constructor(private readonly accounts: AccountRepository) {}

  async apply(request: ApplyAccountsRequest): Promise<ApplyAccountsResult> {
    const prune = request.prune ?? false;
    const dryRun = request.dryRun ?? false;
    const { changes, created } = await this.accounts.applySet((current) => planChanges(current, request.accounts, prune), dryRun);
    const createdId = new Map(created.map((a) => [`${a.provider}/${a.name}`, a.id]));
    const lines: ApplyAccountsResult['changes'] = [
      ...changes.create.map((e) => ({ action: 'create' as const, provider: e.provider, name: e.name, id: createdId.get(`${e.provider}/${e.name}`) ?? null, fields: [] })),
      ...changes.update.map((u) => ({ action: 'update' as const, provider: u.entry.provider, name: u.entry.name, id: u.id, fields: u.fields })),
      ...changes.unchanged.map((a) => ({ action: 'unchanged' as const, provider: a.provider, name: a.name, id: a.id, fields: [] })),
      ...changes.delete.map((a) => ({ action: 'delete' as const, provider: a.provider, name: a.name, id: a.id, fields: [] })),
    ];
    const counts = Object.fromEntries((['create', 'update', 'delete', 'unchanged'] as ApplyAction[]).map((a) => [a, lines.filter((l) => l.action === a).length])) as ApplyAccountsResult['counts'];
    return { dryRun, prune, changes: lines, unlisted: changes.unlisted.map((a) => ({ provider: a.provider, name: a.name, id: a.id })), counts };
  }
}

/** The row fields an entry sets, with the defaults of the fields it leaves out. */
function desiredFields(entry: ApplyAccountEntry): Record<string, unknown> {
  const { provider: _provider, name: _name, ...rest } = entry;
  return { ...rest, endpoint: entry.endpoint ?? null, settings: entry.settings ?? {}, labels: entry.labels ?? {}, credentials: entry.credentials ?? null };
}

/** JSON with object keys sorted: equal values compare equal whatever order the file or Postgres kept. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** Current accounts + the file → what to create, update (which fields), delete and leave. */
export function planChanges(current: CloudAccount[], entries: ApplyAccountEntry[], prune: boolean): AccountChangeSet {
  const byKey = new Map(current.map((a) => [`${a.provider}/${a.name}`, a]));
  const listed = new Set<string>();
  const changes: AccountChangeSet = { create: [], update: [], delete: [], unchanged: [], unlisted: [] };
  for (const entry of entries) {
    const key = `${entry.provider}/${entry.name}`;
    listed.add(key);
    const row = byKey.get(key);
    if (!row) {
      changes.create.push(entry);
      continue;
    }
    const desired = desiredFields(entry);
    const fields = Object.keys(desired).filter((f) => canonical(desired[f]) !== canonical((row as unknown as Record<string, unknown>)[f] ?? null));
    if (fields.length > 0) changes.update.push({ id: row.id, entry, fields: fields.sort() });
    else changes.unchanged.push(row);
  }
  for (const row of current) {
    if (listed.has(`${row.provider}/${row.name}`)) continue;
    if (prune) changes.delete.push({ id: row.id, provider: row.provider, name: row.name });
    else changes.unlisted.push(row);
  }
  return changes;
}
