import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../src/uuidv7.js';

describe('uuidv7', () => {
  it('makes RFC 9562 version-7 ids carrying the millisecond they were made in', () => {
    const now = Date.UTC(2026, 11, 6, 11, 40, 0, 123);
    const id = uuidv7(now);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBeGreaterThanOrEqual(now);
  });

  it('keeps ids made in one millisecond unique and in creation order (cursor paging sorts by id)', () => {
    const at = Date.now() + 60_000;
    const ids = Array.from({ length: 10_000 }, () => uuidv7(at));
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // Past 4,096 in one millisecond the counter carries into the next millisecond.
    expect(Number.parseInt(ids.at(-1)!.replace(/-/g, '').slice(0, 12), 16)).toBeGreaterThan(at);
    // A later clock reading never sorts before what came earlier.
    expect(uuidv7(at + 10) > ids.at(-1)!).toBe(true);
  });
});
