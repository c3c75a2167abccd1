import {
  inventoryImageSchema,
  inventoryVulnerabilitySchema,
  listImagesQuerySchema,
  listVulnerabilitiesQuerySchema,
  pageSchema,
  SEVERITIES,
  severityRank,
  vulnerabilitySummaryQuerySchema,
  vulnerabilitySummarySchema,
  type InventoryImage,
  type InventoryVulnerability,
} from '@scanq/core';
import type { ImageRow, VulnerabilityRow } from '@scanq/db';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';

function toVulnerabilityView(v: VulnerabilityRow): InventoryVulnerability {
  return {
    id: v.id,
    severity: v.severity,
    score: v.score,
    cvssVector: v.cvssVector,
    title: v.title,
    links: v.links ?? [],
    aliases: v.aliases ?? [],
    imageCount: v.imageCount,
    images: v.images.map((i) => ({ ...i, fixable: i.fixedVersion !== null })),
  };
}

export function toImageView(i: ImageRow): InventoryImage {
  return {
    id: i.id,
    provider: i.provider,
    accountId: i.accountId,
    account: i.account,
    registry: i.registry,
    repository: i.repository,
    digest: i.digest,
    tags: i.tags,
    severityCounts: { CRITICAL: i.critical, HIGH: i.high, MEDIUM: i.medium, LOW: i.low, INFORMATIONAL: i.informational, UNKNOWN: i.unknown },
    fixable: i.fixable,
    worstSeverity: SEVERITIES[i.worst] ?? null,
    lastScan: { scanId: i.lastScanId, imageScanId: i.currentImageScanId, scannedAt: i.lastScannedAt.toISOString() },
  };
}

/**
 * The cross-cloud inventory: where each vulnerability is now (each image's latest successful
 * scan), images with their current counts, and the totals. Filters are exact matches.
 */
export const inventoryRoutes: FastifyPluginAsyncZod<{ runtime: ScanqRuntime }> = async (app, { runtime }) => {
  app.get(
    '/vulnerabilities',
    {
      schema: {
        tags: ['inventory'],
        summary: 'Vulnerabilities affecting images now, each with the images it affects; cursor-paged by id',
        description: "Answers \"where is CVE-X across my clouds\": `?cve=CVE-2021-44228`. A cloud's own id (ALAS-…, RHSA-…, AVD-…, CNVD-…) finds the CVE it was mapped to. `imageCount` counts every affected image matching the filters; `images` lists the first `images` of them.",
        querystring: listVulnerabilitiesQuerySchema,
        response: { 200: pageSchema(inventoryVulnerabilitySchema) },
      },
    },
    async (request) => {
      const { cve, package: pkg, severity, fixable, provider, account, registry, repository, images, limit, cursor } = request.query;
      const rows = await runtime.inventory.vulnerabilities({ cve, package: pkg, severities: severity, fixable, provider, account, registry, repository }, limit + 1, cursor, images);
      const items = rows.slice(0, limit);
      return { items: items.map(toVulnerabilityView), nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
    },
  );

  app.get(
    '/vulnerabilities/summary',
    {
      schema: {
        tags: ['inventory'],
        summary: 'Current findings by severity × provider × account, the top vulnerabilities by images affected, the fixable share',
        querystring: vulnerabilitySummaryQuerySchema,
        response: { 200: vulnerabilitySummarySchema },
      },
    },
    async (request) => {
      const { provider, account, top } = request.query;
      const s = await runtime.inventory.summary({ provider, account }, top);
      return { ...s, fixableShare: s.findings === 0 ? 0 : s.fixableFindings / s.findings };
    },
  );

  app.get(
    '/images',
    {
      schema: {
        tags: ['inventory'],
        summary: 'Images (by digest) with their current severity counts and last scan; cursor-paged',
        description: '`minSeverity=critical` lists images with at least one current critical finding; `hasCve` those whose current findings include that id.',
        querystring: listImagesQuerySchema,
        response: { 200: pageSchema(inventoryImageSchema) },
      },
    },
    async (request) => {
      const { hasCve, minSeverity, provider, account, registry, repository, limit, cursor } = request.query;
      const rows = await runtime.inventory.images({ provider, account, registry, repository, hasCve, ...(minSeverity ? { minRank: severityRank(minSeverity) } : {}) }, limit + 1, cursor);
      const items = rows.slice(0, limit);
      return { items: items.map(toImageView), nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
    },
  );
};
