import type { HssApi, Query } from './client.js';
import { type HssImageKey, type ListImageType, type RepositoryImage, count, keyString, parseRepositoryImage } from './wire.js';

/** ListSwrImageRepository's largest page (documented `limit` 10–200). */
export const LIST_PAGE = 200;
/** Its smallest page: what a call that only wants `total_num` asks for. */
const MIN_PAGE = 10;
/** Its largest `offset` (documented 0–2,000,000). */
const MAX_OFFSET = 2_000_000;
/** Pages fetched at once once the total is known. */
const PARALLEL_PAGES = 4;

export type ListScope = Query & { image_type: ListImageType };

interface Page {
  total?: number;
  received: number;
  images: RepositoryImage[];
}

async function inBatches<T, R>(items: T[], size: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

/**
 * Reads HSS's image list (`GET /v5/{project_id}/image/swr-repository`, ListSwrImageRepository)
 * a page of 200 at a time: one call answers for every image on its page, so a scan of N
 * images costs about N/200 calls per pass, never one call per image.
 */
export class ImageLister {
  constructor(
    private readonly api: HssApi,
    private readonly region: string,
    private readonly enterpriseProjectId?: string,
  ) {}

  private async page(scope: ListScope, offset: number, limit = LIST_PAGE): Promise<Page> {
    const res = await this.api.send<{ total_num?: unknown; data_list?: unknown }>({
      api: 'ListSwrImageRepository',
      method: 'GET',
      url: '/v5/{project_id}/image/swr-repository',
      region: this.region,
      query: { ...scope, enterprise_project_id: this.enterpriseProjectId, offset, limit },
    });
    const list = Array.isArray(res.data_list) ? res.data_list : [];
    const images: RepositoryImage[] = [];
    for (const entry of list) {
      const img = parseRepositoryImage(entry, scope.image_type);
      if (img) images.push(img);
    }
    return { total: count(res.total_num), received: list.length, images };
  }

  /** How many images the scope selects (`total_num` of the smallest page, 10), undefined when HSS does not say. */
  async count(scope: ListScope): Promise<number | undefined> {
    return (await this.page(scope, 0, MIN_PAGE)).total;
  }

  /** Every image the scope selects: the first page tells the total, the rest are fetched a few at a time. */
  async all(scope: ListScope, first?: Page): Promise<RepositoryImage[]> {
    const head = first ?? (await this.page(scope, 0));
    const images = [...head.images];
    if (head.received < LIST_PAGE) return images;
    if (head.total !== undefined) {
      const offsets: number[] = [];
      for (let o = LIST_PAGE; o < head.total && o <= MAX_OFFSET; o += LIST_PAGE) offsets.push(o);
      for (const p of await inBatches(offsets, PARALLEL_PAGES, (o) => this.page(scope, o))) images.push(...p.images);
      return images;
    }
    // No usable total_num: walk until a short page.
    for (let o = LIST_PAGE; o <= MAX_OFFSET; o += LIST_PAGE) {
      const p = await this.page(scope, o);
      images.push(...p.images);
      if (p.received < LIST_PAGE) break;
    }
    return images;
  }

  /**
   * Every image the scope selects, yielded a page at a time (inventory for bulk scans): the
   * first page tells the total, the rest are fetched PARALLEL_PAGES at a time, in order.
   */
  async *pages(scope: ListScope): AsyncGenerator<RepositoryImage[]> {
    const head = await this.page(scope, 0);
    yield head.images;
    if (head.received < LIST_PAGE) return;
    if (head.total !== undefined) {
      for (let o = LIST_PAGE; o < head.total && o <= MAX_OFFSET; o += LIST_PAGE * PARALLEL_PAGES) {
        const offsets: number[] = [];
        for (let p = o; p < Math.min(head.total, o + LIST_PAGE * PARALLEL_PAGES) && p <= MAX_OFFSET; p += LIST_PAGE) offsets.push(p);
        for (const p of await Promise.all(offsets.map((off) => this.page(scope, off)))) yield p.images;
      }
      return;
    }
    for (let o = LIST_PAGE; o <= MAX_OFFSET; o += LIST_PAGE) {
      const p = await this.page(scope, o);
      yield p.images;
      if (p.received < LIST_PAGE) return;
    }
  }

  /**
   * The list entries of `keys`, with `extra` filters, by the cheapest cover: one query for the
   * narrowest scope that holds them all (same type/instance, and namespace/name where shared),
   * unless its pages outnumber the repositories involved, in which case one query per
   * repository (exact tag when the repository has one image here). Keys HSS does not list are
   * simply absent from the result.
   */
  async cover(keys: HssImageKey[], extra: Query = {}): Promise<Map<string, RepositoryImage>> {
    const found = new Map<string, RepositoryImage>();
    const partitions = new Map<string, HssImageKey[]>();
    for (const k of keys) {
      const p = `${k.imageType}\u0000${k.instanceId ?? ''}`;
      const members = partitions.get(p);
      if (members) members.push(k);
      else partitions.set(p, [k]);
    }
    const keep = (images: RepositoryImage[]) => {
      for (const img of images) found.set(keyString(img.key), img);
    };
    for (const members of partitions.values()) {
      const [sample] = members as [HssImageKey];
      const base: ListScope = { ...extra, image_type: sample.imageType, ...(sample.instanceId ? { instance_id: sample.instanceId } : {}) };
      const repos = new Map<string, HssImageKey[]>();
      for (const k of members) {
        const r = `${k.namespace}\u0000${k.imageName}`;
        const same = repos.get(r);
        if (same) same.push(k);
        else repos.set(r, [k]);
      }
      const repoScope = (ks: HssImageKey[]): ListScope => {
        const [k] = ks as [HssImageKey];
        return { ...base, namespace: k.namespace, image_name: k.imageName, ...(ks.length === 1 ? { image_version: k.imageVersion } : {}) };
      };
      if (repos.size === 1) {
        keep(await this.all(repoScope(members)));
        continue;
      }
      const namespaces = new Set(members.map((k) => k.namespace));
      const broad: ListScope = namespaces.size === 1 ? { ...base, namespace: sample.namespace } : base;
      const first = await this.page(broad, 0);
      const morePages = first.total === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Math.ceil(first.total / LIST_PAGE) - 1);
      if (morePages <= repos.size) {
        keep(await this.all(broad, first));
      } else {
        keep(first.images);
        for (const images of await inBatches([...repos.values()], PARALLEL_PAGES, (ks) => this.all(repoScope(ks)))) keep(images);
      }
    }
    return found;
  }
}
