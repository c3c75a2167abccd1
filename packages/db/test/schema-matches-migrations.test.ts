import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BULK_SCAN_STATUSES, WEBHOOK_STATUSES, IMAGE_SCAN_STATUSES, PROVIDERS, SCAN_STATUSES, SEVERITIES } from '@scanq/core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../../../test/support/env.js';
import { MIGRATIONS_DIR, createDb, migrate } from '../src/index.js';

/**
 * schema.prisma and the committed migration SQL must describe the same database: a fresh
 * database migrated with the SQL is compared, model by model and field by field, with what
 * the generated client expects.
 */
type Field = { name: string; kind: string; type: string };

// The generated client's data model (names, kinds, types of every field).
function clientModels(): Record<string, { fields: Field[] }> {
  const src = readFileSync(new URL('../src/generated/prisma/internal/class.ts', import.meta.url), 'utf8');
  const match = /config\.runtimeDataModel = JSON\.parse\("((?:\\.|[^"\\])*)"\)/.exec(src);
  if (!match?.[1]) throw new Error('runtimeDataModel not found in the generated client');
  return (JSON.parse(JSON.parse(`"${match[1]}"`)) as { models: Record<string, { fields: Field[] }> }).models;
}

/** Optional (`?`) and list (`[]`) markers per model field, read from schema.prisma. */
function schemaModifiers(): Map<string, { optional: boolean; list: boolean; hasDefault: boolean }> {
  const text = readFileSync(join(MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
  const out = new Map<string, { optional: boolean; list: boolean; hasDefault: boolean }>();
  for (const block of text.matchAll(/model (\w+) \{([\s\S]*?)\n\}/g)) {
    for (const line of block[2]!.split('\n')) {
      const m = /^\s+(\w+)\s+(\w+)(\[\])?(\?)?(.*)$/.exec(line);
      if (m && !m[1]!.startsWith('@@')) out.set(`${block[1]}.${m[1]}`, { list: !!m[3], optional: !!m[4], hasDefault: /@default\(|@updatedAt/.test(m[5] ?? '') });
    }
  }
  return out;
}

const PG_TYPE: Record<string, string[]> = {
  String: ['text', 'uuid'],
  Int: ['integer'],
  BigInt: ['bigint'],
  Float: ['double precision'],
  Boolean: ['boolean'],
  DateTime: ['timestamp without time zone'],
  Json: ['jsonb'],
};

describe('schema.prisma ↔ prisma/migrations', () => {
  let env: TestEnv;
  let client: pg.Client;
  beforeAll(async () => {
    env = await createTestEnv('schema');
    client = new pg.Client({ connectionString: env.databaseUrl });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await env?.cleanup();
  });

  it('has a table for every model and a column of the right type, nullability and list-ness for every field', async () => {
    const models = clientModels();
    const modifiers = schemaModifiers();
    const cols = await client.query<{ table_name: string; column_name: string; data_type: string; udt_name: string; is_nullable: string; column_default: string | null }>(
      "SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'",
    );
    const byTable = new Map<string, Map<string, (typeof cols.rows)[number]>>();
    for (const c of cols.rows) {
      if (!byTable.has(c.table_name)) byTable.set(c.table_name, new Map());
      byTable.get(c.table_name)!.set(c.column_name, c);
    }
    expect([...byTable.keys()].sort()).toEqual(Object.keys(models).sort());
    for (const [model, { fields }] of Object.entries(models)) {
      const table = byTable.get(model)!;
      const scalar = fields.filter((f) => f.kind !== 'object');
      expect([...table.keys()].sort(), `columns of ${model}`).toEqual(scalar.map((f) => f.name).sort());
      for (const f of scalar) {
        const col = table.get(f.name)!;
        const mod = modifiers.get(`${model}.${f.name}`);
        expect(mod, `${model}.${f.name} in schema.prisma`).toBeDefined();
        if (f.kind === 'enum') {
          expect(col.udt_name, `${model}.${f.name}`).toBe(mod!.list ? `_${f.type}` : f.type);
        } else if (mod!.list) {
          expect(col.data_type, `${model}.${f.name}`).toBe('ARRAY');
        } else {
          expect(PG_TYPE[f.type], `${model}.${f.name} (${f.type} vs ${col.data_type})`).toContain(col.data_type);
        }
        expect(col.is_nullable === 'YES', `${model}.${f.name} nullability`).toBe(mod!.optional || mod!.list);
      }
    }
  });

  it('has every enum with the same values as the domain model', async () => {
    const rows = await client.query<{ typname: string; labels: string[] }>(
      "SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)::text[] AS labels FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname",
    );
    const enums = Object.fromEntries(rows.rows.map((r) => [r.typname, r.labels]));
    expect(enums).toEqual({
      Provider: [...PROVIDERS],
      ScanStatus: [...SCAN_STATUSES],
      BulkScanStatus: [...BULK_SCAN_STATUSES],
      WebhookStatus: [...WEBHOOK_STATUSES],
      ImageScanStatus: [...IMAGE_SCAN_STATUSES],
      Severity: [...SEVERITIES],
    });
  });

  it('has the unique keys the schema declares', async () => {
    const rows = await client.query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE 'CREATE UNIQUE%'");
    const names = rows.rows.map((r) => r.indexname);
    expect(names).toEqual(expect.arrayContaining(['CloudAccount_provider_name_key', 'Scan_idempotencyKey_key', 'Scan_pkey', 'ImageScanWindow_pkey']));
  });

  it('has exactly the indexes the schema declares (@@index, named the way Prisma names them)', async () => {
    const schema = readFileSync(join(MIGRATIONS_DIR, '..', 'schema.prisma'), 'utf8');
    const declared = [...schema.matchAll(/model (\w+) \{([\s\S]*?)\n\}/g)].flatMap(([, model, body]) =>
      [...body!.matchAll(/^\s+@@index\(\[([^\]]+)\]\)/gm)].map((m) => {
        const columns = m[1]!.split(',').map((c) => c.trim());
        return `${model}_${columns.join('_')}_idx ON ${model}(${columns.join(', ')})`;
      }),
    );
    const rows = await client.query<{ indexdef: string }>("SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexdef NOT LIKE 'CREATE UNIQUE%'");
    const created = rows.rows.map(({ indexdef }) => {
      const m = /^CREATE INDEX (\S+) ON public\.(\S+) USING btree \((.*)\)$/.exec(indexdef);
      if (!m) throw new Error(`unexpected index: ${indexdef}`);
      return `${m[1]} ON ${m[2]}(${m[3]})`.replaceAll('"', '');
    });
    expect(declared).toContain('Scan_finishedAt_idx ON Scan(finishedAt)');
    expect(created.sort()).toEqual(declared.sort());
  });

  it('round-trips every model through the generated client', async () => {
    const db = createDb(env.databaseUrl, { max: 2 });
    try {
      const account = await db.cloudAccount.create({ data: { provider: 'aws', name: 'rt', region: 'us-east-1', credentialRef: 'x' } });
      const scan = await db.scan.create({ data: { provider: 'aws', accountId: account.id, target: { a: 1 }, deadlineAt: new Date(), idempotencyKey: 'k' } });
      const image = await db.imageScan.create({ data: { scanId: scan.id, registry: 'r', repository: 'p', tags: ['a', 'b'], digest: 'sha256:x' } });
      const finding = await db.finding.create({ data: { scanId: scan.id, imageScanId: image.id, vulnerabilityId: 'CVE-1', severity: 'HIGH', providerSeverity: 'HIGH', raw: { x: 1 }, score: 7.5 } });
      await db.imageScanWindow.create({ data: { accountId: account.id, registry: 'r', repository: 'p', digest: 'sha256:x', lastRequestedAt: new Date(), scanId: scan.id } });
      const schedule = await db.schedule.create({ data: { name: 'nightly', cron: '0 2 * * *', timezone: 'Europe/Berlin', selector: { providers: ['aws'] } } });
      const tickAt = new Date('2026-11-24T01:00:00Z');
      const bulk = await db.bulkScan.create({ data: { selector: { providers: ['aws'] }, scheduleId: schedule.id, tickAt } });
      await db.scan.update({ where: { id: scan.id }, data: { bulkScanId: bulk.id } });
      expect((await db.bulkScan.findUniqueOrThrow({ where: { id: bulk.id }, include: { scans: true } })).scans).toHaveLength(1);
      await db.apiKey.create({ data: { name: 'ci', prefix: 'abcd1234', hash: 'x'.repeat(64) } });
      const delivery = await db.webhookDelivery.create({ data: { event: 'scan.completed', url: 'https://example.com/hook', scanId: scan.id, payload: { a: 1 } } });
      expect(delivery.status).toBe('pending');
      // One bulk scan per schedule tick, whoever creates it.
      await expect(db.bulkScan.create({ data: { selector: {}, scheduleId: schedule.id, tickAt } })).rejects.toMatchObject({ code: 'P2002' });
      const again = await db.scan.findUniqueOrThrow({ where: { id: scan.id }, include: { images: { include: { findings: true } } } });
      expect(again.images[0]!.tags).toEqual(['a', 'b']);
      expect(again.images[0]!.findings[0]!.id).toBe(finding.id);
      expect(typeof finding.id).toBe('bigint');
    } finally {
      await db.$disconnect();
    }
  });

  it('records migrations the way prisma migrate deploy does, and re-running applies nothing', async () => {
    const rows = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }>('SELECT * FROM "_prisma_migrations"');
    const onDisk = readFileSync(join(MIGRATIONS_DIR, rows.rows[0]!.migration_name, 'migration.sql'));
    const { createHash } = await import('node:crypto');
    expect(rows.rows[0]!.checksum).toBe(createHash('sha256').update(onDisk).digest('hex'));
    expect(rows.rows.every((r) => r.finished_at !== null && r.applied_steps_count === 1)).toBe(true);
    const second = await migrate(env.databaseUrl);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied.length).toBe(rows.rowCount);
  });
});
