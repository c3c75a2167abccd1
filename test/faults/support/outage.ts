import type { Check } from './judge.js';
import type { SubmitLog } from './load.js';
import type { Stack } from './stack.js';

export interface ReadyzProbe {
  status: number;
  body: string;
}

export async function probeReadyz(stack: Stack): Promise<ReadyzProbe> {
  try {
    const res = await fetch(`${stack.apiUrl}/readyz`, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, body: (err as Error).name };
  }
}

/** Driver, host and library words that have no place in a public health answer. */
const INTERNAL_TEXT = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|prisma|ioredis|127\.0\.0\.1|localhost|:\d{4,5}\b|stack|at \w+ \(|Error:/i;

/** `/readyz` while `dependency` is down: 503, naming it, without the driver's error text. */
export function readyzCheck(probe: ReadyzProbe, dependency: 'postgres' | 'redis'): Check {
  const names = dependency === 'postgres' ? /postgres|database/i : /redis/i;
  return {
    figure: `/readyz with ${dependency} down: 503 naming it, no internal text`,
    measured: `${probe.status} ${probe.body.slice(0, 200)}`,
    want: `503 naming ${dependency}, nothing like ${INTERNAL_TEXT.source.slice(0, 40)}…`,
    ok: probe.status === 503 && names.test(probe.body) && !INTERNAL_TEXT.test(probe.body),
  };
}

/**
 * POST /v1/scans answers sent while a dependency was down: never a 500, never left unanswered
 * (10 s); a refusal is a 503 with Retry-After. (An accepted scan is fine: it must then not be lost.)
 */
export function outageAnswersCheck(log: SubmitLog, from: number, to: number, dependency: string): Check {
  const during = log.results.filter((r) => r.at >= from && r.at <= to);
  const bad = during.filter((r) => r.status !== 202 && !(r.status === 503 && r.retryAfter));
  return {
    figure: `POST /v1/scans answers with ${dependency} down (202, or 503 with Retry-After)`,
    measured: `${JSON.stringify(log.statuses(from, to))}${bad.length ? `; ${bad.length} not 202 nor 503+Retry-After, e.g. ${bad[0]!.status} ${bad[0]!.error ?? ''}` : ''}`,
    want: 'no 500, none unanswered, every 503 with Retry-After',
    ok: during.length > 0 && bad.length === 0,
  };
}
