import type { Db } from './client.js';
import { Prisma, type StreamEvent } from './generated/prisma/client.js';

export interface NewStreamEvent {
  /** One per thing that ended, e.g. `scan.completed:<scanId>`: recording it again is a no-op. */
  key: string;
  event: string;
  payload: unknown;
  scanId?: string;
  bulkScanId?: string;
}

/** The `events` stream's outbox: ends recorded in Postgres, marked once Redis has them. */
export class StreamEventRepository {
  constructor(private readonly db: Db) {}

  /** Records the event (once per key); the stored row either way. */
  async record(input: NewStreamEvent): Promise<StreamEvent> {
    // ON CONFLICT DO NOTHING, not an upsert: two recorders at once must both succeed.
    const data = { key: input.key, event: input.event, payload: input.payload as Prisma.InputJsonValue, scanId: input.scanId ?? null, bulkScanId: input.bulkScanId ?? null };
    await this.db.streamEvent.createMany({ data: [data], skipDuplicates: true });
    return this.db.streamEvent.findUniqueOrThrow({ where: { key: input.key } });
  }

  /** Marks the event appended (its stream entry id), unless another appender did first. */
  async appended(id: string, streamId: string): Promise<boolean> {
    const { count } = await this.db.streamEvent.updateMany({ where: { id, streamId: null }, data: { streamId, appendedAt: new Date() } });
    return count === 1;
  }

  /** Events still waiting for the stream, recorded at least `olderThanMs` ago, oldest first. */
  pending(olderThanMs: number, limit: number): Promise<StreamEvent[]> {
    return this.db.streamEvent.findMany({ where: { appendedAt: null, createdAt: { lte: new Date(Date.now() - olderThanMs) } }, orderBy: { id: 'asc' }, take: limit });
  }

  forScan(scanId: string): Promise<StreamEvent[]> {
    return this.db.streamEvent.findMany({ where: { scanId }, orderBy: { id: 'asc' } });
  }
}
