import { InvalidParameter } from './errors.js';

/**
 * Field checks for HSS request bodies and query strings. Each failure throws InvalidParameter
 * naming the field (with its JSON path for list items), rendered as HSS.0001. Lengths are UTF-16
 * code units, as Java's `String.length()` counts them on the HSS side.
 */

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkLength(path: string, value: string, min: number, max: number): string {
  if (value.length < min || value.length > max) throw new InvalidParameter(path, `length must be between ${min} and ${max}`);
  return value;
}

function checkEnum<T extends string>(path: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new InvalidParameter(path, `must be one of ${allowed.join(', ')}`);
  return value as T;
}

function checkRange(path: string, value: number, min: number, max: number): number {
  if (value < min || value > max) throw new InvalidParameter(path, `must be between ${min} and ${max}`);
  return value;
}

/** Reads fields of one JSON object; `prefix` locates it in the body (e.g. `image_info_list[3].`). */
export class BodyReader {
  constructor(
    private readonly obj: JsonObject,
    private readonly prefix = '',
  ) {}

  private raw(field: string): unknown {
    return this.obj[field] ?? undefined;
  }

  has(field: string): boolean {
    return this.raw(field) !== undefined;
  }

  string(field: string, min: number, max: number, required = false): string | undefined {
    const v = this.raw(field);
    const path = this.prefix + field;
    if (v === undefined) {
      if (required) throw new InvalidParameter(path, 'must not be null');
      return undefined;
    }
    if (typeof v !== 'string') throw new InvalidParameter(path, 'must be a string');
    return checkLength(path, v, min, max);
  }

  enumOf<T extends string>(field: string, allowed: readonly T[], min: number, max: number, required = false): T | undefined {
    const v = this.string(field, min, max, required);
    return v === undefined ? undefined : checkEnum(this.prefix + field, v, allowed);
  }

  boolean(field: string): boolean | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw new InvalidParameter(this.prefix + field, 'must be a boolean');
    return v;
  }

  long(field: string, min: number, max: number): number | undefined {
    const v = this.raw(field);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new InvalidParameter(this.prefix + field, 'must be an integer');
    return checkRange(this.prefix + field, v, min, max);
  }

  array(field: string, minItems: number, maxItems: number): unknown[] | undefined {
    const v = this.raw(field);
    const path = this.prefix + field;
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw new InvalidParameter(path, 'must be an array');
    if (v.length < minItems || v.length > maxItems) throw new InvalidParameter(path, `size must be between ${minItems} and ${maxItems}`);
    return v;
  }
}

/** Reads query-string parameters (all strings on the wire). */
export class QueryReader {
  constructor(private readonly query: URLSearchParams) {}

  string(field: string, min: number, max: number, required = false): string | undefined {
    const v = this.query.get(field);
    if (v === null) {
      if (required) throw new InvalidParameter(field, 'must not be null');
      return undefined;
    }
    return checkLength(field, v, min, max);
  }

  enumOf<T extends string>(field: string, allowed: readonly T[], required = false): T | undefined {
    const v = this.query.get(field);
    if (v === null) {
      if (required) throw new InvalidParameter(field, 'must not be null');
      return undefined;
    }
    return checkEnum(field, v, allowed);
  }

  boolean(field: string): boolean | undefined {
    const v = this.query.get(field);
    if (v === null) return undefined;
    if (v !== 'true' && v !== 'false') throw new InvalidParameter(field, 'must be true or false');
    return v === 'true';
  }

  integer(field: string, min: number, max: number, fallback?: number): number | undefined {
    const v = this.query.get(field);
    if (v === null) return fallback;
    if (!/^-?\d+$/.test(v)) throw new InvalidParameter(field, 'must be an integer');
    return checkRange(field, Number(v), min, max);
  }
}
