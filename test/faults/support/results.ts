import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../../support/processes.js';

/** One scenario's measured row: what test/faults/README.md's table is made of. */
export interface ResultRow {
  scenario: string;
  /** Scans the API accepted (202 with an id). */
  scans: number;
  lost: number;
  duplicateCloudTasks: number;
  quotaViolations: number;
  /** Seconds from the end of the fault until every affected scan moved again; null: not within the scenario's bound. */
  timeToHealS: number | null;
  /** Everything else the scenario measured (per-cloud duplicates, answers during an outage, …). */
  details: Record<string, unknown>;
  /** The figures this row breaks, in words (empty: all held). */
  broken: string[];
  measuredAt: string;
}

/** SCANQ_FAULTS_RESULTS, else test-results/faults.json (git-ignored). Files run one at a time, so read-merge-write is safe. */
export const RESULTS_FILE = process.env.SCANQ_FAULTS_RESULTS ?? join(REPO_ROOT, 'test-results', 'faults.json');

export function readResults(file = RESULTS_FILE): Record<string, ResultRow> {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, ResultRow>) : {};
}

export function recordResult(row: Omit<ResultRow, 'measuredAt'>, file = RESULTS_FILE): ResultRow {
  const full: ResultRow = { ...row, measuredAt: new Date().toISOString() };
  const all = readResults(file);
  all[row.scenario] = full;
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
  return full;
}

/** The README table: `node --import tsx test/faults/support/results.ts [file]`. */
export function resultsTable(rows: ResultRow[]): string {
  const heal = (s: number | null) => (s === null ? 'not healed' : `${s.toFixed(1)} s`);
  // Table cells: no pipe may end a cell early; long measured texts (a /readyz body) cut short.
  const cell = (text: string) => (text.length > 140 ? `${text.slice(0, 140)}…` : text).replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '| scenario | scans | lost | duplicate cloud tasks | quota violations | time to heal | figures broken |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.scans} | ${r.lost} | ${r.duplicateCloudTasks} | ${r.quotaViolations} | ${heal(r.timeToHealS)} | ${r.broken.map(cell).join('; ') || '—'} |`),
  ].join('\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  console.log(resultsTable(Object.values(readResults(process.argv[2] ?? RESULTS_FILE))));
}
