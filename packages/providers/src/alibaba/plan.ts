import { ALIBABA_DIGEST_PATTERN, ALIBABA_MAX_FILTER_VALUES, type AlibabaScanTarget, alibabaScanTargetSchema } from '@scanq/core';
import type { InventoryImage, PlannedScan } from '../contract.js';
import { bareDigest, parseRegistry } from './criteria.js';

/**
 * Bulk planning for SAS: the fewest PublicCreateImageScanTask tasks over a selection.
 *
 * A task's filters combine with OR within a field and AND across fields, each field at most
 * ALIBABA_MAX_FILTER_VALUES values. A task over images i₁…iₙ lists their instances, namespaces,
 * repositories and digests; it matches every listed image (its own values are all there) and
 * beyond them only images that carry one of the listed digests in another listed
 * instance/namespace/repository, i.e. the same content again (another tag of a digest the
 * planner merged, or a copy), which SAS scans and authorizes per digest anyway. Images are
 * packed in location order (instance, namespace, repository) so tasks stay repository-coherent,
 * and a task closes when any field would exceed its limit: with one digest per image that is
 * 100 images a task.
 */

interface Location {
  instanceId: string;
  namespace: string;
  repoName: string;
  digest: string;
  tag: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Where an inventory image sits, from the listing item kept in `raw` (or its ImageRef). */
function locationOf(image: InventoryImage): Location {
  const item = ((image.raw as { instance?: Record<string, unknown> } | null)?.instance ?? {}) as Record<string, unknown>;
  const slash = image.repository.lastIndexOf('/');
  return {
    instanceId: str(item.InstanceId) || parseRegistry(image.registry)?.instanceId || '',
    namespace: str(item.RepoNamespace) || (slash >= 0 ? image.repository.slice(0, slash) : image.namespace ?? ''),
    repoName: str(item.RepoName) || (slash >= 0 ? image.repository.slice(slash + 1) : image.repository),
    digest: image.digest && ALIBABA_DIGEST_PATTERN.test(image.digest) ? bareDigest(image.digest) : '',
    tag: str(item.Tag) || image.tags[0] || '',
  };
}

type ListField = 'instanceIds' | 'repoNamespaces' | 'repoNames' | 'digests' | 'tags';
const FIELD_OF: Record<ListField, keyof Location> = { instanceIds: 'instanceId', repoNamespaces: 'namespace', repoNames: 'repoName', digests: 'digest', tags: 'tag' };

/** Whether `value` may stand in the field (the request schema's rule for one value). */
function validValue(field: ListField, value: string): boolean {
  return value !== '' && alibabaScanTargetSchema.shape[field].safeParse([value]).success;
}

class TaskBuilder {
  readonly images: InventoryImage[] = [];
  private readonly values = new Map<ListField, Set<string>>();
  /** Fields left out because an image has no usable value there (the task then does not filter on them). */
  private readonly open = new Set<ListField>();

  constructor(private readonly fields: readonly ListField[]) {
    for (const f of fields) this.values.set(f, new Set());
  }

  /** Adds the image unless a field would then hold more values than the API takes. */
  tryAdd(image: InventoryImage, at: Location): boolean {
    for (const f of this.fields) {
      const set = this.values.get(f)!;
      const v = at[FIELD_OF[f]];
      if (validValue(f, v) && !set.has(v) && set.size >= ALIBABA_MAX_FILTER_VALUES) return false;
    }
    for (const f of this.fields) {
      const v = at[FIELD_OF[f]];
      if (validValue(f, v)) this.values.get(f)!.add(v);
      else this.open.add(f);
    }
    this.images.push(image);
    return true;
  }

  target(): AlibabaScanTarget {
    const target: AlibabaScanTarget = {};
    for (const f of this.fields) {
      const set = this.values.get(f)!;
      if (!this.open.has(f) && set.size > 0) target[f] = [...set] as never;
    }
    return target;
  }
}

/** Bulk tasks over `images` (already one per digest and location): see the file comment. */
export function planTasks(images: InventoryImage[]): PlannedScan<AlibabaScanTarget>[] {
  const located = images.map((image) => ({ image, at: locationOf(image) }));
  located.sort((a, b) => a.at.instanceId.localeCompare(b.at.instanceId) || a.at.namespace.localeCompare(b.at.namespace) || a.at.repoName.localeCompare(b.at.repoName) || a.at.digest.localeCompare(b.at.digest));
  const planned: PlannedScan<AlibabaScanTarget>[] = [];
  const pack = (entries: typeof located, fields: readonly ListField[]) => {
    let task = new TaskBuilder(fields);
    for (const { image, at } of entries) {
      if (task.tryAdd(image, at)) continue;
      planned.push({ target: task.target(), images: task.images });
      task = new TaskBuilder(fields);
      task.tryAdd(image, at);
    }
    if (task.images.length) planned.push({ target: task.target(), images: task.images });
  };
  pack(located.filter((l) => l.at.digest), ['instanceIds', 'repoNamespaces', 'repoNames', 'digests']);
  // SAS lists every image with its digest; an entry without one is addressed by its tag, one
  // task per image (a tag list would reach other digests of the same repositories).
  for (const entry of located.filter((l) => !l.at.digest)) pack([entry], ['instanceIds', 'repoNamespaces', 'repoNames', 'tags']);
  return planned;
}
