import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('create call timing (SCANQ_CREATE_TIMEOUT_MS, SCANQ_CREATE_SETTLE_MS)', () => {
  it('defaults the settle time to the create timeout + 10 s, and follows a timeout that was set', () => {
    expect(loadConfig({}).worker).toMatchObject({ createTimeoutMs: 10_000, createSettleMs: 20_000 });
    expect(loadConfig({ SCANQ_CREATE_TIMEOUT_MS: '15000' }).worker).toMatchObject({ createTimeoutMs: 15_000, createSettleMs: 25_000 });
    expect(loadConfig({ SCANQ_CREATE_TIMEOUT_MS: '2000', SCANQ_CREATE_SETTLE_MS: '3000' }).worker).toMatchObject({ createTimeoutMs: 2_000, createSettleMs: 3_000 });
  });

  it('refuses a settle time the create call could outlast, naming both variables', () => {
    for (const settle of ['10000', '5000']) {
      const attempt = () => loadConfig({ SCANQ_CREATE_SETTLE_MS: settle });
      expect(attempt).toThrow(ConfigError);
      expect(attempt).toThrow(new RegExp(`SCANQ_CREATE_SETTLE_MS: ${settle} must exceed SCANQ_CREATE_TIMEOUT_MS \\(10000\\)`));
    }
    // The timeout has a floor: a create call needs time to be answered at all.
    expect(() => loadConfig({ SCANQ_CREATE_TIMEOUT_MS: '500' })).toThrow(/SCANQ_CREATE_TIMEOUT_MS/);
  });
});
