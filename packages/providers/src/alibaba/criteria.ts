import type { AlibabaScanTarget } from '@scanq/core';

/**
 * The scan's filters in the two forms SAS takes them:
 * - PublicPreCheckImageScanTask / PublicCreateImageScanTask: one comma-joined string per
 *   filter (the request schema guarantees no value contains a comma).
 * - DescribeImageInstances: `Criteria` JSON ([{name, value, logicalExp}]) + `LogicalExp`. A
 *   criterion holds one value and SAS's text criteria match loosely (substring), so every
 *   single-valued filter with a documented criterion name (DescribeImageCriteria: tag, digest,
 *   registryType; the API example: instanceId) becomes an AND criterion that narrows the
 *   listing, and each listed item is then matched exactly against every filter here (OR within
 *   a filter's list, AND across filters).
 */

/** target field → task parameter, Criteria name, and the DescribeImageInstances item field. */
const FILTERS = [
  { field: 'registryTypes', param: 'RegistryTypes', criterion: 'registryType', item: 'RegistryType' },
  { field: 'regionIds', param: 'RegionIds', criterion: null, item: 'RegionId' },
  { field: 'instanceIds', param: 'InstanceIds', criterion: 'instanceId', item: 'InstanceId' },
  { field: 'repoNamespaces', param: 'RepoNamespaces', criterion: null, item: 'RepoNamespace' },
  { field: 'repoIds', param: 'RepoIds', criterion: null, item: 'RepoId' },
  { field: 'repoNames', param: 'RepoNames', criterion: null, item: 'RepoName' },
  { field: 'digests', param: 'Digests', criterion: 'digest', item: 'Digest' },
  { field: 'tags', param: 'Tags', criterion: 'tag', item: 'Tag' },
] as const satisfies readonly { field: keyof AlibabaScanTarget; param: string; criterion: string | null; item: string }[];

/** SAS reports digests as bare hex. */
export const bareDigest = (d: string): string => d.replace(/^sha256:/i, '').toLowerCase();

function values(target: AlibabaScanTarget, field: keyof AlibabaScanTarget): string[] {
  const list = (target[field] ?? []) as string[];
  return field === 'digests' ? list.map(bareDigest) : list;
}

/** Query parameters of PublicPreCheckImageScanTask / PublicCreateImageScanTask. */
export function taskParams(target: AlibabaScanTarget): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of FILTERS) {
    const v = values(target, f.field);
    if (v.length > 0) out[f.param] = v.join(',');
  }
  return out;
}

export interface Criterion {
  name: string;
  value: string;
  logicalExp: 'AND' | 'OR';
}

/** DescribeImageInstances' filter parameters. */
export interface InstanceFilter {
  Criteria?: string;
  LogicalExp: 'AND' | 'OR';
}

/** `Criteria` and `LogicalExp` of DescribeImageInstances (no Criteria when nothing narrows). */
export function instanceCriteria(target: AlibabaScanTarget): InstanceFilter {
  const criteria: Criterion[] = [];
  for (const f of FILTERS) {
    const v = values(target, f.field);
    if (f.criterion && v.length === 1) criteria.push({ name: f.criterion, value: v[0] as string, logicalExp: 'AND' });
  }
  return criteria.length ? { Criteria: JSON.stringify(criteria), LogicalExp: 'AND' } : { LogicalExp: 'AND' };
}

/** Whether a DescribeImageInstances item matches every filter exactly (the task's own semantics). */
export function matchesTarget(target: AlibabaScanTarget, item: Record<string, unknown>): boolean {
  return FILTERS.every((f) => {
    const wanted = values(target, f.field);
    if (wanted.length === 0) return true;
    const actual = String(item[f.item] ?? '');
    return wanted.includes(f.field === 'digests' ? bareDigest(actual) : actual);
  });
}

/** This adapter's ImageRef.registry: `<registryType>:<regionId>:<instanceId>`. */
export function parseRegistry(registry: string): { registryType: string; regionId: string; instanceId: string } | null {
  const [registryType, regionId, ...rest] = registry.split(':');
  const instanceId = rest.join(':');
  return registryType && regionId && instanceId ? { registryType, regionId, instanceId } : null;
}

/**
 * The inventory listing's filter: one selected registry narrows it by its registryType and
 * instanceId (documented criterion names, AND). Several registries, or none, list everything;
 * the planner keeps the selected ones exactly (instanceId matches loosely at the cloud).
 */
export function registryCriteria(registries: string[] | undefined): InstanceFilter {
  const one = registries?.length === 1 ? parseRegistry(registries[0] as string) : null;
  if (!one) return { LogicalExp: 'AND' };
  const criteria: Criterion[] = [
    { name: 'registryType', value: one.registryType, logicalExp: 'AND' },
    { name: 'instanceId', value: one.instanceId, logicalExp: 'AND' },
  ];
  return { Criteria: JSON.stringify(criteria), LogicalExp: 'AND' };
}

/** Images with any of `digests` (bare hex): one digest criterion each, OR-joined. */
export function digestCriteria(digests: string[]): InstanceFilter {
  const criteria: Criterion[] = digests.map((d) => ({ name: 'digest', value: bareDigest(d), logicalExp: 'OR' }));
  return { Criteria: JSON.stringify(criteria), LogicalExp: 'OR' };
}
