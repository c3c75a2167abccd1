/**
 * The spine's peer (issue 19): the bare loop a team would write instead of scanq — a cron script
 * over images with the real `@aws-sdk/client-ecr` at its default client settings, N images in
 * flight, each: resolve the tag (DescribeImages), StartImageScan, poll
 * DescribeImageScanFindings until COMPLETE, then one Postgres transaction storing a scan row and
 * its findings with their raw JSON, in simple tables of its own database (not scanq's schema).
 * No API, no queue, no quotas, no retries beyond the SDK's own. The bench imports the ECR SDK
 * here on purpose: the peer is what scanq is measured against, not scanq code.
 */
import { DescribeImageScanFindingsCommand, DescribeImagesCommand, ECRClient, StartImageScanCommand, type DescribeImageScanFindingsCommandOutput } from '@aws-sdk/client-ecr';
import pg from 'pg';

export interface PeerOptions {
  /** The simulator's base URL, e.g. http://127.0.0.1:4566. */
  endpoint: string;
  region: string;
  registryId: string;
  accessKeyId: string;
  secretAccessKey: string;
  repositoryName: string;
  tags: string[];
  concurrency: number;
  /** A database of the peer's own (created empty; the loop creates its tables). */
  databaseUrl: string;
  /** Wait between polls of a scan that is not COMPLETE yet (the first look is immediate). */
  pollMs: number;
  /** Called once every scan is stored, before the pool's connections close (to read their backends' CPU). */
  beforeClose?: () => Promise<void>;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS scans (
  id bigserial PRIMARY KEY,
  repository text NOT NULL,
  tag text NOT NULL,
  digest text NOT NULL,
  status text NOT NULL,
  completed_at timestamptz,
  raw jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS findings (
  id bigserial PRIMARY KEY,
  scan_id bigint NOT NULL REFERENCES scans(id) ON DELETE CASCADE,
  name text NOT NULL,
  severity text NOT NULL,
  package_name text,
  package_version text,
  raw jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS findings_scan_id ON findings(scan_id);`;

/** Prepares the peer's tables (outside the timed run). */
export async function preparePeerDatabase(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(SCHEMA);
  } finally {
    await client.end();
  }
}

interface FindingRow {
  name: string;
  severity: string;
  packageName: string | null;
  packageVersion: string | null;
  raw: unknown;
}

/** Basic scanning's findings or enhanced scanning's, whichever the answer carries. */
function findingRows(pages: DescribeImageScanFindingsCommandOutput[]): FindingRow[] {
  const rows: FindingRow[] = [];
  for (const page of pages) {
    for (const f of page.imageScanFindings?.findings ?? []) {
      const attr = (key: string) => f.attributes?.find((a) => a.key === key)?.value ?? null;
      rows.push({ name: f.name ?? '', severity: f.severity ?? 'UNDEFINED', packageName: attr('package_name'), packageVersion: attr('package_version'), raw: f });
    }
    for (const f of page.imageScanFindings?.enhancedFindings ?? []) {
      const pkg = f.packageVulnerabilityDetails?.vulnerablePackages?.[0];
      rows.push({ name: f.packageVulnerabilityDetails?.vulnerabilityId ?? f.title ?? '', severity: f.severity ?? 'UNDEFINED', packageName: pkg?.name ?? null, packageVersion: pkg?.version ?? null, raw: f });
    }
  }
  return rows;
}

/** Runs the loop over every tag; resolves with the number of scans stored and the calls made. */
export async function runPeerLoop(o: PeerOptions): Promise<{ stored: number; calls: Record<string, number> }> {
  // Default client settings: only where to go and who is calling.
  const ecr = new ECRClient({ region: o.region, endpoint: o.endpoint, credentials: { accessKeyId: o.accessKeyId, secretAccessKey: o.secretAccessKey } });
  const pool = new pg.Pool({ connectionString: o.databaseUrl }); // node-postgres defaults: 10 connections
  const calls = { DescribeImages: 0, StartImageScan: 0, DescribeImageScanFindings: 0 };
  let next = 0;
  let stored = 0;

  async function scanOne(tag: string): Promise<void> {
    const base = { registryId: o.registryId, repositoryName: o.repositoryName };
    calls.DescribeImages++;
    const described = await ecr.send(new DescribeImagesCommand({ ...base, imageIds: [{ imageTag: tag }] }));
    const digest = described.imageDetails?.[0]?.imageDigest;
    if (!digest) throw new Error(`${o.repositoryName}:${tag}: no digest`);
    const imageId = { imageDigest: digest };
    calls.StartImageScan++;
    await ecr.send(new StartImageScanCommand({ ...base, imageId }));
    let pages: DescribeImageScanFindingsCommandOutput[];
    for (;;) {
      calls.DescribeImageScanFindings++;
      const first = await ecr.send(new DescribeImageScanFindingsCommand({ ...base, imageId }));
      const status = first.imageScanStatus?.status;
      if (status === 'FAILED' || status === 'UNSUPPORTED_IMAGE') throw new Error(`${o.repositoryName}:${tag}: scan ${status}`);
      if (status === 'COMPLETE') {
        pages = [first];
        for (let token = first.nextToken; token; ) {
          calls.DescribeImageScanFindings++;
          const page = await ecr.send(new DescribeImageScanFindingsCommand({ ...base, imageId, nextToken: token }));
          pages.push(page);
          token = page.nextToken;
        }
        break;
      }
      await new Promise((r) => setTimeout(r, o.pollMs));
    }
    const { $metadata: _metadata, ...answer } = pages[0]!;
    const scanRaw = { ...answer, imageScanFindings: { ...answer.imageScanFindings, findings: undefined, enhancedFindings: undefined } };
    const rows = findingRows(pages);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const scan = await client.query<{ id: string }>(
        'INSERT INTO scans (repository, tag, digest, status, completed_at, raw) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id',
        [o.repositoryName, tag, digest, 'COMPLETE', answer.imageScanFindings?.imageScanCompletedAt ?? null, JSON.stringify(scanRaw)],
      );
      if (rows.length) {
        const params: unknown[] = [];
        const values = rows.map((r) => {
          params.push(scan.rows[0]!.id, r.name, r.severity, r.packageName, r.packageVersion, JSON.stringify(r.raw));
          const n = params.length;
          return `($${n - 5}, $${n - 4}, $${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
        });
        await client.query(`INSERT INTO findings (scan_id, name, severity, package_name, package_version, raw) VALUES ${values.join(', ')}`, params);
      }
      await client.query('COMMIT');
      stored++;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  try {
    await Promise.all(
      Array.from({ length: o.concurrency }, async () => {
        while (next < o.tags.length) await scanOne(o.tags[next++]!);
      }),
    );
    await o.beforeClose?.();
  } finally {
    ecr.destroy();
    await pool.end();
  }
  return { stored, calls };
}
