import { ecrErrors } from './errors.js';

/**
 * Request checks in ECR's own terms: a missing required member or a wrongly typed value is a
 * ValidationException / SerializationException; a value breaking a model constraint (length,
 * pattern, range) is an InvalidParameterException worded "Invalid parameter at '<member>'
 * failed to satisfy constraint: '…'", as ECR prints it.
 */

export const REPOSITORY_NAME_PATTERN = '(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*';
const REPOSITORY_NAME_RE = new RegExp(`^${REPOSITORY_NAME_PATTERN}$`);
const REGISTRY_ID_PATTERN = '[0-9]{12}';
const REGISTRY_ID_RE = /^[0-9]{12}$/;
const IMAGE_DIGEST_PATTERN = '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+';
// `-` escaped: unescaped, JS would read `9-_` as a character range.
const IMAGE_DIGEST_RE = /^[a-zA-Z0-9\-_+.]+:[a-fA-F0-9]+$/;

export interface ImageIdentifier {
  imageDigest?: string;
  imageTag?: string;
}

export type JsonObject = Record<string, unknown>;

function constraint(member: string, what: string): never {
  throw ecrErrors.invalidParameter(`Invalid parameter at '${member}' failed to satisfy constraint: '${what}'`);
}

function typeMismatch(member: string, expected: string): never {
  throw ecrErrors.serialization(`Unexpected value type for '${member}': expected ${expected}`);
}

export function requireMember(body: JsonObject, member: string): unknown {
  const value = body[member];
  if (value === undefined || value === null) {
    throw ecrErrors.validation(`1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`);
  }
  return value;
}

export function optionalString(body: JsonObject, member: string): string | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') typeMismatch(member, 'a string');
  return value;
}

export function repositoryName(body: JsonObject, member = 'repositoryName'): string {
  const value = requireMember(body, member);
  if (typeof value !== 'string') typeMismatch(member, 'a string');
  return checkRepositoryName(value, member);
}

export function checkRepositoryName(value: string, member: string): string {
  if (value.length < 2) constraint(member, 'must have length greater than or equal to 2');
  if (value.length > 256) constraint(member, 'must have length less than or equal to 256');
  if (!REPOSITORY_NAME_RE.test(value)) constraint(member, `must satisfy regular expression '${REPOSITORY_NAME_PATTERN}'`);
  return value;
}

/** The registry asked for, defaulting to the caller's own. */
export function registryId(body: JsonObject, callerRegistryId: string): string {
  const value = optionalString(body, 'registryId');
  if (value === undefined) return callerRegistryId;
  if (!REGISTRY_ID_RE.test(value)) constraint('registryId', `must satisfy regular expression '${REGISTRY_ID_PATTERN}'`);
  return value;
}

export function imageIdentifier(value: unknown, member: string): ImageIdentifier {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) typeMismatch(member, 'a structure');
  const id = value as JsonObject;
  const imageDigest = optionalString(id, 'imageDigest');
  const imageTag = optionalString(id, 'imageTag');
  if (imageDigest === undefined && imageTag === undefined) {
    throw ecrErrors.validation(`1 validation error detected: '${member}' must contain an imageDigest or an imageTag`);
  }
  if (imageDigest !== undefined && !IMAGE_DIGEST_RE.test(imageDigest)) {
    constraint(`${member}.imageDigest`, `must satisfy regular expression '${IMAGE_DIGEST_PATTERN}'`);
  }
  if (imageTag !== undefined) {
    if (imageTag.length < 1) constraint(`${member}.imageTag`, 'must have length greater than or equal to 1');
    if (imageTag.length > 300) constraint(`${member}.imageTag`, 'must have length less than or equal to 300');
  }
  return { ...(imageDigest !== undefined ? { imageDigest } : {}), ...(imageTag !== undefined ? { imageTag } : {}) };
}

/** `maxResults` (1–1000), or `fallback` when absent. */
export function maxResults(body: JsonObject, fallback: number): number {
  const value = body.maxResults;
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) typeMismatch('maxResults', 'an integer');
  if (value < 1) constraint('maxResults', 'Member must have value greater than or equal to 1');
  if (value > 1000) constraint('maxResults', 'Member must have value less than or equal to 1000');
  return value;
}

export function optionalObject(body: JsonObject, member: string): JsonObject | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) typeMismatch(member, 'a structure');
  return value as JsonObject;
}

export function optionalList(body: JsonObject, member: string, min: number, max: number): unknown[] | undefined {
  const value = body[member];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) typeMismatch(member, 'a list');
  if (value.length < min) constraint(member, `Member must have length greater than or equal to ${min}`);
  if (value.length > max) constraint(member, `Member must have length less than or equal to ${max}`);
  return value;
}

export function enumValue<T extends string>(value: unknown, member: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    constraint(member, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
  }
  return value as T;
}
