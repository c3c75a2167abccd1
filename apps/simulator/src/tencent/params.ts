import { TC_ERRORS, TcError } from './errors.js';

/** Request parameters after JSON parsing; each reader validates one field like the real API (InvalidParameter*). */
export type Params = Record<string, unknown>;

/** `ImageInfo` (tcss_models.ts): identifies a registry image by instance/namespace/name/tag. */
export interface ImageInfo {
  InstanceName: string;
  Namespace: string;
  ImageName: string;
  ImageTag: string;
  Force?: string;
  ImageDigest?: string;
  RegistryType?: string;
  ImageRepoAddress?: string;
  InstanceId?: string;
}

/** `AssetFilters`: filters are ANDed, the values inside one filter ORed. */
export interface AssetFilter {
  Name: string;
  Values: string[];
  ExactMatch: boolean;
}

export function optionalBool(p: Params, name: string): boolean | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw invalid(name, 'must be a boolean');
}

/** An integer (JSON number or numeric string: the API docs' own examples send `"Id": "5427"`). */
export function optionalInt(p: Params, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  const n = toInt(v);
  if (n === undefined) throw invalid(name, 'must be an integer');
  if (n < min || n > max) throw new TcError(TC_ERRORS.invalidParameterValue, `${name} must be between ${min} and ${max}, got ${n}.`);
  return n;
}

export function optionalString(p: Params, name: string): string | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(name, 'must be a string');
  return v;
}

export function idArray(p: Params, name: string): number[] {
  const v = p[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(name, 'must be an array of integers');
  return v.map((item, i) => {
    const n = toInt(item);
    if (n === undefined || n < 0) throw invalid(`${name}.${i}`, 'must be a non-negative integer');
    return n;
  });
}

export function stringArray(p: Params, name: string): string[] {
  const v = p[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw invalid(name, 'must be an array of strings');
  return v as string[];
}

export function imageInfos(p: Params, name: string): ImageInfo[] {
  const v = p[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(name, 'must be an array of ImageInfo');
  return v.map((item, i) => imageInfoAt(item, `${name}.${i}`));
}

export function optionalImageInfo(p: Params, name: string): ImageInfo | undefined {
  const v = p[name];
  return v === undefined || v === null ? undefined : imageInfoAt(v, name);
}

export function filters(p: Params, name = 'Filters'): AssetFilter[] {
  const v = p[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid(name, 'must be an array of AssetFilters');
  return v.map((f, i) => {
    const at = `${name}.${i}`;
    if (!isRecord(f) || typeof f.Name !== 'string') throw invalid(`${at}.Name`, 'is required');
    if (!Array.isArray(f.Values) || !f.Values.every((s) => typeof s === 'string')) throw invalid(`${at}.Values`, 'must be an array of strings');
    if (f.ExactMatch !== undefined && typeof f.ExactMatch !== 'boolean') throw invalid(`${at}.ExactMatch`, 'must be a boolean');
    return { Name: f.Name, Values: f.Values as string[], ExactMatch: f.ExactMatch === true };
  });
}

/** Limit (default 10, max 100) and Offset (default 0), as every TCSS list call documents them. */
export function paging(p: Params): { limit: number; offset: number } {
  return { limit: optionalInt(p, 'Limit', 1, 100) ?? 10, offset: optionalInt(p, 'Offset', 0) ?? 0 };
}

/** True when `value` passes one filter: `all` passes everything; otherwise exact or case-insensitive substring match. */
export function matchesFilter(value: string, filter: AssetFilter): boolean {
  if (filter.Values.length === 0 || filter.Values.some((v) => v.toLowerCase() === 'all')) return true;
  const needle = value.toLowerCase();
  return filter.Values.some((v) => (filter.ExactMatch ? value === v : needle.includes(v.toLowerCase())));
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function imageInfoAt(v: unknown, at: string): ImageInfo {
  if (!isRecord(v)) throw invalid(at, 'must be an ImageInfo object');
  const required = ['InstanceName', 'Namespace', 'ImageName', 'ImageTag'] as const;
  for (const key of required) {
    if (typeof v[key] !== 'string' || v[key] === '') throw new TcError(TC_ERRORS.invalidParameter, `${at}.${key} is required.`);
  }
  const info: ImageInfo = {
    InstanceName: v.InstanceName as string,
    Namespace: v.Namespace as string,
    ImageName: v.ImageName as string,
    ImageTag: v.ImageTag as string,
  };
  for (const key of ['Force', 'ImageDigest', 'RegistryType', 'ImageRepoAddress', 'InstanceId'] as const) {
    const value = v[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw invalid(`${at}.${key}`, 'must be a string');
    info[key] = value;
  }
  return info;
}

function toInt(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) {
    const n = Number(v.trim());
    return Number.isSafeInteger(n) ? n : undefined;
  }
  return undefined;
}

function invalid(name: string, what: string): TcError {
  return new TcError(TC_ERRORS.invalidParameter, `The parameter ${name} ${what}.`);
}
