import { expect } from 'vitest';
import type { CallCounterSnapshot } from '../../apps/simulator/src/core/call-counter.js';
import { AUTH } from './env.js';
import { waitFor } from './wait.js';

/** A scan as `GET /v1/scans/:id` shows it (the fields the e2e tests read). */
export interface ScanView {
  id: string;
  status: string;
  reason: string | null;
  error: string | null;
  images: { status: string }[];
}

/**
 * What an end-to-end test does over HTTP against a running API process and simulator: register
 * an account (pointed at the simulator), submit a scan, wait for it to end, read the simulator's
 * call counts. The URLs are read at each call (tests learn them in beforeAll).
 */
export function apiCalls(urls: () => { api: string; sim: string }) {
  const json = async <T>(url: string): Promise<T> => (await fetch(url, { headers: AUTH })).json() as Promise<T>;
  const post = (url: string, body: unknown) => fetch(url, { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const scan = (id: string) => json<ScanView>(`${urls().api}/v1/scans/${id}`);
  return {
    json,
    post,
    scan,
    calls: () => json<CallCounterSnapshot>(`${urls().sim}/_sim/calls`),
    /** The scan once it is succeeded, failed or cancelled. */
    ended: (id: string, timeoutMs = 120_000) =>
      waitFor(async () => {
        const s = await scan(id);
        return ['succeeded', 'failed', 'cancelled'].includes(s.status) ? s : undefined;
      }, { timeoutMs, intervalMs: 250, what: `scan ${id} to end` }),
    /** POST /v1/accounts with the simulator as endpoint; expects 201. */
    async register(body: Record<string, unknown>): Promise<void> {
      const res = await post(`${urls().api}/v1/accounts`, { endpoint: urls().sim, ...body });
      expect(res.status, await res.clone().text()).toBe(201);
    },
    /** POST /v1/scans; expects 202, returns the scan id. */
    async submit(body: Record<string, unknown>): Promise<string> {
      const res = await post(`${urls().api}/v1/scans`, body);
      expect(res.status, await res.clone().text()).toBe(202);
      return ((await res.json()) as { id: string }).id;
    },
  };
}
