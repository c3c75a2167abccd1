import { type ScanView, scanSchema } from '@scanq/core';
import type { ScanWithImages } from '@scanq/db';
import { createSerializerCompiler } from 'fastify-type-provider-zod';
import { describe, expect, it } from 'vitest';
import { compileView } from '../src/serializers.js';
import { toScanView } from '../src/views.js';

const at = new Date('2026-12-06T10:00:00.123Z');
const image = (id: string, status: 'succeeded' | 'failed', counts: number[]) => ({
  id, scanId: 's', registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com', repository: 'web/"quoted"\\path', tags: ['1.0', 'latest'], digest: status === 'succeeded' ? `sha256:${'a'.repeat(64)}` : null,
  status, reason: status === 'failed' ? 'image_not_found' : null, reused: status === 'succeeded', progress: 100, providerImageId: null, raw: null,
  critical: counts[0]!, high: counts[1]!, medium: counts[2]!, low: counts[3]!, informational: counts[4]!, unknown: counts[5]!,
  scanCompletedAt: status === 'succeeded' ? at : null, createdAt: at, updatedAt: at,
});
/** A scan with everything a view can carry: nulls and values, images, an odd target, text that needs escaping. */
const scan = {
  id: '0193a0a0-0000-7000-8000-000000000000', provider: 'aws', accountId: '0193a0a0-0000-7000-8000-000000000001', status: 'failed', reason: 'partial', error: 'line\nbreak "and" ünïcode \u2028',
  target: { repositoryName: 'web', imageIds: [{ imageTag: '1.0' }, { imageDigest: null }], nested: { n: 1.5, t: true } }, providerTaskId: 'task-1', progress: 50, attempts: 2,
  images: [image('i1', 'succeeded', [1, 2, 3, 4, 5, 6]), image('i2', 'failed', [0, 0, 0, 0, 0, 0])],
  deadlineAt: at, startedAt: at, finishedAt: null, createdAt: at, updatedAt: at,
} as unknown as ScanWithImages;

describe('compiled scan serializer', () => {
  const zod = createSerializerCompiler({})({ schema: scanSchema, method: 'GET', url: '/v1/scans/:id' } as never);
  const compiled = compileView(scanSchema);

  it.each([
    ['a finished scan with images', toScanView(scan)],
    ['a queued scan without images', toScanView({ ...scan, status: 'queued', reason: null, error: null, providerTaskId: null, startedAt: null, images: [] } as ScanWithImages)],
    ['a listing view with totals', toScanView(scan, { imageCount: 7, critical: 9, high: 0, medium: 0, low: 0, informational: 0, unknown: 1 })],
  ])('writes %s exactly as the zod serializer does', (_what, view: ScanView) => {
    const text = compiled(view);
    expect(JSON.parse(text)).toEqual(JSON.parse(zod(view)));
    // Field for field in the schema's order, nothing dropped or added.
    expect(text).toBe(zod(view));
  });

  it('leaves out what is not in the schema, as zod does', () => {
    const view = { ...toScanView(scan), internal: 'secret' } as ScanView;
    expect(compiled(view)).not.toContain('secret');
    expect(compiled(view)).toBe(zod(view));
  });
});
