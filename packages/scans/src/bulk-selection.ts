import type { BulkSelector } from '@scanq/core';
import type { InventoryImage } from '@scanq/providers';

/** A selector list without repeats (a name given twice is listed once). */
export const uniqueNames = (names: string[] | undefined) => (names ? [...new Set(names)] : undefined);

/** `*` any run, `?` one character; everything else literal. */
export function tagGlob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/**
 * Whether a selector's registry names `registry`: scanq's own form (`acr:<region>:<instance>`,
 * `instance_image/<id>`, an ECR registry id) or the cloud's bare instance id, its last part.
 */
export function registrySelected(registry: string, selected: readonly string[]): boolean {
  return selected.includes(registry) || selected.includes(registry.slice(Math.max(registry.lastIndexOf(':'), registry.lastIndexOf('/')) + 1));
}

/** What the selector keeps of one listing page (server-side filters aside); an image without a region of its own is in its account's. */
export function selectImages(images: InventoryImage[], selector: BulkSelector, accountRegion: string): InventoryImage[] {
  const globs = selector.tagPatterns?.map(tagGlob);
  return images.filter((image) => {
    if (selector.regions?.length && !selector.regions.includes(image.region ?? accountRegion)) return false;
    if (selector.registries?.length && !registrySelected(image.registry, selector.registries)) return false;
    if (selector.namespaces?.length) {
      const ns = image.namespace ?? (image.repository.includes('/') ? image.repository.slice(0, image.repository.lastIndexOf('/')) : '');
      if (!selector.namespaces.includes(ns)) return false;
    }
    if (selector.repositories?.length && !selector.repositories.includes(image.repository)) return false;
    if (globs && !image.tags.some((t) => globs.some((g) => g.test(t)))) return false;
    return true;
  });
}

/**
 * "Latest tag only", folded page by page: per repository, the image tagged `latest` where there
 * is one, else the most recently pushed tagged image (untagged images and signatures pushed later
 * do not win). Holds one image per repository, never the listing.
 */
export class LatestPerRepository {
  private readonly best = new Map<string, InventoryImage>();

  add(images: Iterable<InventoryImage>): void {
    const rank = (i: InventoryImage) => (i.tags.includes('latest') ? Number.MAX_SAFE_INTEGER : i.tags.length === 0 ? -2 : (i.pushedAt?.getTime() ?? -1));
    for (const image of images) {
      const key = `${image.registry}/${image.repository}`;
      const current = this.best.get(key);
      if (!current || rank(image) > rank(current)) this.best.set(key, image);
    }
  }

  result(): InventoryImage[] {
    return [...this.best.values()].filter((i) => i.tags.length > 0);
  }
}

export function latestPerRepository(images: InventoryImage[]): InventoryImage[] {
  const latest = new LatestPerRepository();
  latest.add(images);
  return latest.result();
}

/** One entry per digest: tags pointing at the same digest merge into one image. */
export function oneImagePerDigest(images: InventoryImage[]): InventoryImage[] {
  const byKey = new Map<string, InventoryImage>();
  for (const image of images) {
    const key = `${image.registry}/${image.repository}@${image.digest ?? image.providerImageId ?? image.tags.join(',')}`;
    const seen = byKey.get(key);
    if (seen) seen.tags = [...new Set([...seen.tags, ...image.tags])];
    else byKey.set(key, { ...image, tags: [...image.tags] });
  }
  return [...byKey.values()];
}
