import type { Db } from './client.js';
import { GroupCommit } from './group-commit.js';
import type { StreamEvent } from './generated/prisma/client.js';
import type { SqlClient } from './sql.js';
import { uuidv7 } from './uuidv7.js';

export interface NewStreamEvent {
  /** One per thing that ended, e.g. `scan.completed:<scanId>`: recording it again is a no-op. */
  key: string;
  event: string;
  payload: unknown;
  scanId?: string;
  bulkScanId?: string;
}

/**
 * The `events` stream's outbox: ends recorded in Postgres, marked once Redis has them. Recording
 * and marking are on every scan's end, so plain SQL (SqlClient), as the rest of that path.
 */
export class StreamEventRepository {
  /**
   * Marks of events appended about together go as one UPDATE (group commit): at ~100 scans/s a
   * mark each was a commit each. A mark lost with its batch only means a repeat append (the
   * stream is at least once), but callers still hear of a failure.
   */
  private readonly marks: GroupCommit<{ id: string; streamId: string }, boolean>;

  constructor(
    private readonly db: Db,
    private readonly sql: SqlClient,
    marks: { maxSize: number; maxWaitMs: number } = { maxSize: 200, maxWaitMs: 5 },
  ) {
    this.marks = new GroupCommit(async (items) => {
      const marked = await this.sql.rows<{ id: string }>(
        `UPDATE "StreamEvent" e SET "streamId" = v.stream, "appendedAt" = timezone('UTC', now())
           FROM unnest($1::uuid[], $2::text[]) AS v(id, stream)
          WHERE e."id" = v.id AND e."streamId" IS NULL
          RETURNING e."id"::text AS id`,
        [items.map((i) => i.id), items.map((i) => i.streamId)],
      );
      const ids = new Set(marked.map((m) => m.id));
      return items.map((i) => ids.has(i.id));
    }, marks);
  }

  /** Records the event (once per key: two recorders at once both succeed); the stored row either way. */
  async record(input: NewStreamEvent): Promise<StreamEvent> {
    const [inserted] = await this.sql.rows<StreamEvent>(
      `INSERT INTO "StreamEvent" ("id", "key", "event", "scanId", "bulkScanId", "payload", "createdAt")
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, timezone('UTC', now()))
       ON CONFLICT ("key") DO NOTHING RETURNING *`,
      [uuidv7(), input.key, input.event, input.scanId ?? null, input.bulkScanId ?? null, JSON.stringify(input.payload)],
    );
    if (inserted) return inserted;
    const [existing] = await this.sql.rows<StreamEvent>('SELECT * FROM "StreamEvent" WHERE "key" = $1', [input.key]);
    if (!existing) throw new Error(`stream event ${input.key} conflicted but is gone`);
    return existing;
  }

  /** Marks the event appended (its stream entry id), unless another appender did first; marks made together share one UPDATE. */
  appended(id: string, streamId: string): Promise<boolean> {
    return this.marks.submit({ id, streamId });
  }

  /** Events still waiting for the stream, recorded at least `olderThanMs` ago, oldest first. */
  pending(olderThanMs: number, limit: number): Promise<StreamEvent[]> {
    return this.db.streamEvent.findMany({ where: { appendedAt: null, createdAt: { lte: new Date(Date.now() - olderThanMs) } }, orderBy: { id: 'asc' }, take: limit });
  }

  forScan(scanId: string): Promise<StreamEvent[]> {
    return this.db.streamEvent.findMany({ where: { scanId }, orderBy: { id: 'asc' } });
  }
}
