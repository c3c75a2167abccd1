import type { CreateScheduleRequest, PatchScheduleRequest } from '@scanq/core';
import type { Db } from './client.js';
import { Prisma, type Schedule } from './generated/prisma/client.js';

/** Cron schedules: Postgres holds them; BullMQ job schedulers are re-derived from these rows. */
export class ScheduleRepository {
  constructor(private readonly db: Db) {}

  /** Creates a schedule; `null` when the name is taken. */
  async create(input: CreateScheduleRequest, nextRunAt: Date | null): Promise<Schedule | null> {
    try {
      return await this.db.schedule.create({ data: { ...input, selector: input.selector as Prisma.InputJsonValue, nextRunAt } });
    } catch (err) {
      if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002') return null;
      throw err;
    }
  }

  get(id: string): Promise<Schedule | null> {
    return this.db.schedule.findUnique({ where: { id } });
  }

  list(): Promise<Schedule[]> {
    return this.db.schedule.findMany({ orderBy: { name: 'asc' } });
  }

  enabled(): Promise<Schedule[]> {
    return this.db.schedule.findMany({ where: { enabled: true } });
  }

  async update(id: string, patch: PatchScheduleRequest & { nextRunAt?: Date | null; lastRunAt?: Date }): Promise<Schedule | null> {
    const { selector, ...rest } = patch;
    const res = await this.db.schedule.updateMany({ where: { id }, data: { ...rest, ...(selector ? { selector: selector as Prisma.InputJsonValue } : {}) } });
    return res.count === 1 ? this.get(id) : null;
  }

  async delete(id: string): Promise<boolean> {
    return (await this.db.schedule.deleteMany({ where: { id } })).count === 1;
  }
}
