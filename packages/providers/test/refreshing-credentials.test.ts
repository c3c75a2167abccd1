import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { credentialFingerprint, RefreshingCredentials } from '../src/refreshing-credentials.js';

/** The per-account cache every role source sits behind: one fetch at a time, refreshed before expiry. */
describe('RefreshingCredentials', () => {
  const source = (lifetimeMs: number, fail = () => false) => {
    let fetches = 0;
    const creds = new RefreshingCredentials(async () => {
      fetches++;
      await new Promise((r) => setTimeout(r, 5));
      if (fail()) throw new Error('sts unreachable');
      return { id: fetches, expiration: new Date(Date.now() + lifetimeMs) };
    });
    return { creds, fetches: () => fetches };
  };

  it('shares one fetch among concurrent callers and reuses it while far from expiry', async () => {
    const { creds, fetches } = source(3_600_000);
    const got = await Promise.all(Array.from({ length: 20 }, () => creds.get()));
    expect(new Set(got.map((g) => g.id))).toEqual(new Set([1]));
    await creds.get();
    expect(fetches()).toBe(1);
  });

  it('fetches again once half a short session has passed, and after invalidate', async () => {
    const { creds, fetches } = source(400);
    const first = await creds.get();
    await waitFor(() => Date.now() > first.expiration.getTime() - 200, { what: 'half the session' });
    expect((await creds.get()).id).toBe(2);
    creds.invalidate();
    expect((await creds.get()).id).toBe(3);
    expect(fetches()).toBe(3);
  });

  it('hands out what it holds while a refresh fails and it is still valid; throws once it has expired', async () => {
    let failing = false;
    // 12 s: refreshed from 6 s before the end, held ones handed out until 1 s before it (a wide window for a loaded machine).
    const { creds } = source(12_000, () => failing);
    const first = await creds.get();
    await waitFor(() => Date.now() > first.expiration.getTime() - 6_000, { what: 'the refresh point' });
    failing = true;
    expect((await creds.get()).id).toBe(1);
    await waitFor(() => Date.now() > first.expiration.getTime(), { what: 'the session to expire' });
    await expect(creds.get()).rejects.toThrow('sts unreachable');
  });

  it('fingerprints the source and the set without holding the secret', () => {
    const a = credentialFingerprint({ source: 'static' }, { accessKeyId: 'AK', secretAccessKey: 'hunter2' });
    expect(a).not.toContain('hunter2');
    expect(credentialFingerprint({ source: 'static' }, { secretAccessKey: 'hunter2', accessKeyId: 'AK' })).toBe(a);
    expect(credentialFingerprint({ source: 'static' }, { accessKeyId: 'AK', secretAccessKey: 'rotated' })).not.toBe(a);
    expect(credentialFingerprint(null, { accessKeyId: 'AK', secretAccessKey: 'hunter2' })).not.toBe(a);
  });
});
