import type { ScanqConfig } from '@scanq/core';
import type { RetentionRepository } from '@scanq/db';
import type { Logger } from 'pino';

export interface RetentionPass {
  runsPruned: number;
  findingsDeleted: number;
  runsDeleted: number;
  runsRawDropped: number;
  findingsRawDropped: number;
}

/**
 * Keeps the findings tables bounded under repeated scans of the same images: full findings for
 * each image's newest runs, counts only beyond (and, with a history bound, no row past it); raw
 * payloads dropped past a horizon. Run from
 * the maintenance loop (one worker at a time, under its Redis lease), in small batches.
 */
export class RetentionService {
  constructor(
    private readonly rows: RetentionRepository,
    private readonly config: ScanqConfig['retention'],
    private readonly log: Logger,
  ) {}

  async prune(now = new Date()): Promise<RetentionPass> {
    const pass: RetentionPass = { runsPruned: 0, findingsDeleted: 0, runsDeleted: 0, runsRawDropped: 0, findingsRawDropped: 0 };
    const { fullRuns, historyRuns, rawDays, batch, maxBatches } = this.config;
    if (fullRuns > 0) {
      for (let i = 0; i < maxBatches; i++) {
        const r = await this.rows.pruneRuns(fullRuns, batch);
        pass.runsPruned += r.runs;
        pass.findingsDeleted += r.findings;
        if (r.runs < batch) break;
      }
      for (let i = 0; historyRuns > 0 && i < maxBatches; i++) {
        const n = await this.rows.deleteRuns(fullRuns + historyRuns, batch);
        pass.runsDeleted += n;
        if (n < batch) break;
      }
    }
    if (rawDays > 0) {
      const horizon = new Date(now.getTime() - rawDays * 86_400_000);
      for (let i = 0; i < maxBatches; i++) {
        const r = await this.rows.dropRaw(horizon, batch);
        pass.runsRawDropped += r.runs;
        pass.findingsRawDropped += r.findings;
        if (r.runs < batch) break;
      }
    }
    if (pass.runsPruned + pass.runsDeleted + pass.runsRawDropped > 0) this.log.info(pass, 'retention pass');
    return pass;
  }
}
