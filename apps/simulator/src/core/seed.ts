import { createHash } from 'node:crypto';

/**
 * Deterministic pseudo-randomness for seeding images and deriving findings: the same seed and
 * label always give the same values, across runs and processes.
 */
export function sha256Hex(input: string): string {
  return createHash('sha256').update(input).digest('hex');
}

/** A small deterministic PRNG (mulberry32) seeded from a string. */
export function seededRandom(label: string): () => number {
  let a = parseInt(sha256Hex(label).slice(0, 8), 16) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)] as T;
}
