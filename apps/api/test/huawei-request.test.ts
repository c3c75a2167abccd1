import { SIMULATOR_ACCOUNTS } from '@scanq/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH } from '../../../test/support/env.js';
import { type InProcessApi, startInProcessApi } from './in-process-api.js';

// POST /v1/scans with provider huawei: the whole BatchScanSwrImage request of the seed
// (provider-docs/huawei-hss-BatchScanSwrImage.txt), every bound answered with a 400 naming the field.

const HW = SIMULATOR_ACCOUNTS.huawei[0];
const image = { namespace: 'payments', image_name: 'ledger', image_version: '1.2.3' };
const listed = { provider: 'huawei', account: HW.name, image_type: 'private_image', image_info_list: [image] };
const all = { provider: 'huawei', account: HW.name, image_type: 'private_image', operate_all: true };
const MAX = 2147483547;

describe('HTTP API: Huawei scan requests', () => {
  let api: InProcessApi;
  let app: InProcessApi['app'];
  beforeAll(async () => {
    api = await startInProcessApi('hwapi', ['huawei']);
    ({ app } = api);
  });
  afterAll(async () => api?.close());

  const post = (body: unknown) => app.inject({ method: 'POST', url: '/v1/scans', payload: body as object, headers: AUTH });

  it.each([
    ['an image list', { ...listed, repo_type: 'SWR', enterprise_project_id: 'all_granted_eps', region: 'cn-north-4' }],
    ['an image list entry with every field', { ...listed, image_info_list: [{ ...image, instance_id: 'i'.repeat(128), instance_url: '' }] }],
    ['an image list of exactly 10241 images', { ...listed, image_info_list: Array.from({ length: 10241 }, (_, i) => ({ ...image, image_version: `v${i}` })) }],
    ['operate_all alone', all],
    [
      'operate_all with every filter at its bounds',
      {
        ...all,
        image_type: 'shared_image',
        namespace: 'n'.repeat(256),
        image_name: 'i'.repeat(256),
        image_version: 'v'.repeat(256),
        scan_status: 'image_oversized',
        latest_version: true,
        image_size: MAX,
        start_latest_update_time: 0,
        end_latest_update_time: MAX,
        start_latest_scan_time: 1,
        end_latest_scan_time: MAX,
      },
    ],
  ])('accepts %s (202) and keeps the seed field names in the target', async (_what, body) => {
    const res = await post(body);
    expect(res.statusCode).toBe(202);
    const { provider: _p, account: _a, ...target } = body as Record<string, unknown>;
    expect(res.json().target).toEqual(target);
  });

  const long = (n: number) => 'x'.repeat(n);
  const entry = (patch: Record<string, unknown>) => ({ ...listed, image_info_list: [{ ...image, ...patch }] });

  it.each([
    ['image_type missing', { provider: 'huawei', account: HW.name, operate_all: true }, 'body.image_type', 'one_of'],
    ['image_type not private/shared', { ...all, image_type: 'local_image' }, 'body.image_type', 'one_of'],
    ['repo_type not SWR', { ...all, repo_type: 'harbor' }, 'body.repo_type', 'one_of'],
    ['enterprise_project_id empty', { ...all, enterprise_project_id: '' }, 'body.enterprise_project_id', 'min_length'],
    ['enterprise_project_id over 256', { ...all, enterprise_project_id: long(257) }, 'body.enterprise_project_id', 'max_length'],
    ['region over 128', { ...all, region: long(129) }, 'body.region', 'max_length'],
    ['an image list over 10241', { ...listed, image_info_list: Array.from({ length: 10242 }, () => image) }, 'body.image_info_list', 'max_items'],
    ['neither an image list nor operate_all', { provider: 'huawei', account: HW.name, image_type: 'private_image' }, 'body.image_info_list', 'constraint'],
    ['an empty image list without operate_all', { ...listed, image_info_list: [] }, 'body.image_info_list', 'constraint'],
    ['operate_all false without a list', { ...all, operate_all: false }, 'body.image_info_list', 'constraint'],
    ['both an image list and operate_all', { ...listed, operate_all: true }, 'body.image_info_list', 'constraint'],
    ['operate_all not a boolean', { ...all, operate_all: 'yes' }, 'body.operate_all', undefined],
    ['namespace missing in a list entry', { ...listed, image_info_list: [{ image_name: 'a', image_version: 'b' }] }, 'body.image_info_list.0.namespace', 'required'],
    ['entry namespace empty', entry({ namespace: '' }), 'body.image_info_list.0.namespace', 'min_length'],
    ['entry namespace over 64', entry({ namespace: long(65) }), 'body.image_info_list.0.namespace', 'max_length'],
    ['entry image_name over 128', entry({ image_name: long(129) }), 'body.image_info_list.0.image_name', 'max_length'],
    ['entry image_name empty', entry({ image_name: '' }), 'body.image_info_list.0.image_name', 'min_length'],
    ['entry image_version over 128', entry({ image_version: long(129) }), 'body.image_info_list.0.image_version', 'max_length'],
    ['entry image_version empty', entry({ image_version: '' }), 'body.image_info_list.0.image_version', 'min_length'],
    ['entry instance_id empty', entry({ instance_id: '' }), 'body.image_info_list.0.instance_id', 'min_length'],
    ['entry instance_id over 128', entry({ instance_id: long(129) }), 'body.image_info_list.0.instance_id', 'max_length'],
    ['entry instance_url over 256', entry({ instance_url: long(257) }), 'body.image_info_list.0.instance_url', 'max_length'],
    ['an unknown field in an entry', entry({ tag: 'x' }), 'body.image_info_list.0.tag', 'unknown_field'],
    ['a filter without operate_all', { ...listed, namespace: 'payments' }, 'body.namespace', 'constraint'],
    ['namespace filter empty', { ...all, namespace: '' }, 'body.namespace', 'min_length'],
    ['namespace filter over 256', { ...all, namespace: long(257) }, 'body.namespace', 'max_length'],
    ['image_name filter over 256', { ...all, image_name: long(257) }, 'body.image_name', 'max_length'],
    ['image_version filter over 256', { ...all, image_version: long(257) }, 'body.image_version', 'max_length'],
    ['image_version filter empty', { ...all, image_version: '' }, 'body.image_version', 'min_length'],
    ['scan_status not a documented status', { ...all, scan_status: 'done' }, 'body.scan_status', 'one_of'],
    ['latest_version not a boolean', { ...all, latest_version: 'true' }, 'body.latest_version', undefined],
    ['image_size negative', { ...all, image_size: -1 }, 'body.image_size', 'minimum'],
    ['image_size over the maximum', { ...all, image_size: MAX + 1 }, 'body.image_size', 'maximum'],
    ['start_latest_update_time negative', { ...all, start_latest_update_time: -1 }, 'body.start_latest_update_time', 'minimum'],
    ['end_latest_update_time over the maximum', { ...all, end_latest_update_time: MAX + 1 }, 'body.end_latest_update_time', 'maximum'],
    ['start_latest_scan_time over the maximum', { ...all, start_latest_scan_time: MAX + 1 }, 'body.start_latest_scan_time', 'maximum'],
    ['end_latest_scan_time negative', { ...all, end_latest_scan_time: -1 }, 'body.end_latest_scan_time', 'minimum'],
    ['a time that is not an integer', { ...all, start_latest_scan_time: 1.5 }, 'body.start_latest_scan_time', undefined],
    ['an update range ending before it starts', { ...all, start_latest_update_time: 200, end_latest_update_time: 100 }, 'body.end_latest_update_time', 'constraint'],
    ['a scan range ending before it starts', { ...all, start_latest_scan_time: 200, end_latest_scan_time: 100 }, 'body.end_latest_scan_time', 'constraint'],
    ['an unknown field', { ...all, colour: 'red' }, 'body.colour', 'unknown_field'],
  ])('rejects %s with 400 naming the field and the rule', async (_what, body, field, rule) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    const json = res.json();
    expect(json.error).toBe('validation_error');
    // Wrong JSON types: apps/api/src/errors.ts reports them as `required` (zod issue params carry
    // no input there), so only the field is pinned for those rows.
    expect(json.issues).toEqual(expect.arrayContaining([expect.objectContaining(rule ? { field, rule } : { field })]));
  });

  it('states the rule in the message', async () => {
    const res = await post({ ...all, image_size: MAX + 1, scan_status: 'done' });
    const issues = res.json().issues as { field: string; message: string }[];
    expect(issues.find((i) => i.field === 'body.image_size')?.message).toBe(`must be 0–${MAX}`);
    expect(issues.find((i) => i.field === 'body.scan_status')?.message).toContain('unscan, success, scanning, failed, download_failed, image_oversized');
    const missing = await post({ provider: 'huawei', account: HW.name, operate_all: true });
    expect(missing.json().issues).toEqual([expect.objectContaining({ field: 'body.image_type', message: 'is required (private_image or shared_image)' })]);
  });
});
