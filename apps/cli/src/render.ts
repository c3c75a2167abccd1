import type { Scan } from '@scanq/client';
import { SEVERITIES, type ScanStatus, type Severity } from '@scanq/core';
import pc from 'picocolors';

export type Colors = ReturnType<typeof pc.createColors>;

/** Colours when the terminal takes them (picocolors honours NO_COLOR / FORCE_COLOR). */
export function colorsFor(isTTY: boolean): Colors {
  return pc.createColors(pc.isColorSupported && isTTY);
}

const ANSI = /\x1b\[[0-9;]*m/g;
const visibleLength = (s: string) => s.replace(ANSI, '').length;
const padEnd = (s: string, width: number) => s + ' '.repeat(Math.max(0, width - visibleLength(s)));

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** A plain column table: bold headers, cells padded to the widest visible text. */
export function table(c: Colors, headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((cell, i) => (i === cells.length - 1 ? cell : padEnd(cell, widths[i]!))).join('  ').trimEnd();
  return [line(headers.map((h) => c.bold(h))), ...rows.map(line)].join('\n');
}

export function severityColor(c: Colors, severity: Severity): (s: string) => string {
  switch (severity) {
    case 'CRITICAL':
      return (s) => c.bold(c.red(s));
    case 'HIGH':
      return c.red;
    case 'MEDIUM':
      return c.yellow;
    case 'LOW':
      return c.cyan;
    default:
      return c.dim;
  }
}

export function statusColor(c: Colors, status: ScanStatus | string): (s: string) => string {
  switch (status) {
    case 'succeeded':
      return c.green;
    case 'failed':
      return c.red;
    case 'cancelled':
      return c.dim;
    case 'running':
    case 'scanning':
      return c.cyan;
    case 'quota_wait':
    case 'retrying':
      return c.yellow;
    default:
      return (s) => s;
  }
}

/** "C 1  H 3  M 12" with each count in its severity's colour; zero counts left out. */
export function severitySummary(c: Colors, counts: Record<Severity, number>): string {
  const parts = SEVERITIES.filter((s) => counts[s] > 0).map((s) => severityColor(c, s)(`${s[0]} ${counts[s]}`));
  return parts.length ? parts.join('  ') : c.dim('none');
}

export function progressBar(c: Colors, percent: number, status: string, width = 24): string {
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `${statusColor(c, status)('█'.repeat(filled))}${c.dim('░'.repeat(width - filled))}`;
}

/** What a scan is of, in one short phrase: its first image, else its target. */
export function scanSubject(scan: Scan): string {
  const first = scan.images[0];
  if (first) {
    const ref = first.tags[0] ? `${first.repository}:${first.tags[0]}` : `${first.repository}@${(first.digest ?? '').slice(0, 19)}`;
    return scan.images.length > 1 ? `${ref} +${scan.images.length - 1}` : ref;
  }
  const t = scan.target as { repositoryName?: string; imageId?: { imageTag?: string; imageDigest?: string } };
  if (t.repositoryName) return `${t.repositoryName}:${t.imageId?.imageTag ?? t.imageId?.imageDigest ?? ''}`;
  return truncate(JSON.stringify(scan.target), 48);
}

export const shortTime = (iso: string | null) => (iso ? iso.replace('T', ' ').slice(0, 19) : '');
