import { timingSafeEqual } from 'node:crypto';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { ScanqRuntime } from '@scanq/scans';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

const same = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/** HTTP Basic auth against the configured admin credentials; 401 says nothing more. */
export function basicAuth(user: string, password: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization ?? '';
    const [scheme, encoded] = header.split(' ');
    if (scheme?.toLowerCase() === 'basic' && encoded) {
      const decoded = Buffer.from(encoded, 'base64').toString('utf8');
      const i = decoded.indexOf(':');
      if (i > 0 && same(decoded.slice(0, i), user) && same(decoded.slice(i + 1), password)) return;
    }
    const issue = { field: 'headers.authorization', rule: 'basic_auth', message: 'must carry the admin user and password (Basic)' };
    return reply.code(401).header('www-authenticate', 'Basic realm="scanq admin", charset="UTF-8"').send({ error: 'unauthorized', message: `${issue.field}: ${issue.message}`, issues: [issue] });
  };
}

export const BULL_BOARD_PATH = '/admin/queues';

/** Bull Board over every scanq queue, behind Basic auth. */
export async function registerBullBoard(app: FastifyInstance, runtime: ScanqRuntime, credentials: { user: string; password: string }): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({ queues: runtime.queues.allQueues().map((q) => new BullMQAdapter(q)), serverAdapter, options: { uiConfig: { boardTitle: 'scanq' } } });
  await app.register(async (admin) => {
    admin.addHook('onRequest', basicAuth(credentials.user, credentials.password));
    await admin.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
}
