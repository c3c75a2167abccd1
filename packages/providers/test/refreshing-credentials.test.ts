import { describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import type { ProviderAccount } from '../src/contract.js';
import { credentialFingerprint, PerAccountCredentials, RefreshingCredentials } from '../src/refreshing-credentials.js';

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

  it('drops refused credentials only while they are still the ones held (a concurrent refresh is kept)', async () => {
    const { creds, fetches } = source(3_600_000);
    const first = await creds.get();
    creds.invalidate(first);
    const second = await creds.get();
    expect(second.id).toBe(2);
    // A late refusal of the first keys must not drop their successor.
    creds.invalidate(first);
    expect((await creds.get()).id).toBe(2);
    expect(fetches()).toBe(2);
  });
});

describe('PerAccountCredentials', () => {
  const account = (secret: string, source: ProviderAccount['credentialSource'] = null): ProviderAccount => ({
    id: 'acc-1',
    provider: 'tencent',
    name: 'a',
    region: 'ap-guangzhou',
    endpoint: null,
    settings: {},
    credentials: { secretId: 'AKID', secretKey: secret },
    credentialSource: source,
  });

  it('keeps one entry per account, rebuilt when its secrets or its source change', () => {
    let built = 0;
    const cache = new PerAccountCredentials(() => ({ n: ++built }));
    const a = cache.for(account('s1'));
    expect(cache.for(account('s1'))).toEqual(a);
    const rotated = cache.for(account('s2'));
    expect(rotated.entry.n).toBe(2);
    expect(rotated.fingerprint).not.toBe(a.fingerprint);
    expect(cache.held('acc-1')).toBe(rotated.entry);
    expect(cache.for(account('s2', { source: 'static' })).entry.n).toBe(3);
    expect(cache.held('acc-2')).toBeUndefined();
  });
});
