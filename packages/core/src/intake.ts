import { z } from 'zod';
import { createBulkScanSchema, type CreateBulkScanRequest } from './bulk.js';
import { issuesMessage } from './issues.js';
import { JobName, type IntakePayload } from './jobs.js';
import { createScanRequestSchema, type CreateScanRequest, type ErrorResponse, idempotencyKeySchema } from './schemas.js';
import { type Checked, checkBody, check, type InputIssue } from './validate.js';

/** The request schema of each intake job: the HTTP body's. */
export const INTAKE_REQUEST_SCHEMAS = {
  [JobName.ScanRequest]: createScanRequestSchema,
  [JobName.BulkRequest]: createBulkScanSchema,
} as const;
export type IntakeJobName = keyof typeof INTAKE_REQUEST_SCHEMAS;
export type IntakeRequest<N extends IntakeJobName> = N extends typeof JobName.ScanRequest ? CreateScanRequest : CreateBulkScanRequest;

const envelopeSchema = z.object({ request: z.unknown(), idempotencyKey: idempotencyKeySchema.optional() }).strict();

/**
 * An intake job's data checked as the API checks a request: the request as `body.…` (the same
 * issues a 400 lists), the idempotency key as `idempotencyKey` (the header's rules).
 */
export function checkIntake<N extends IntakeJobName>(name: N, data: unknown): Checked<IntakePayload<IntakeRequest<N>>> {
  const envelope = check(envelopeSchema, data, 'data');
  if (!envelope.ok) {
    // The key's rules are the header's; its field is the job's own.
    return { ok: false, issues: envelope.issues.map((i) => (i.field === 'data.idempotencyKey' ? { ...i, field: 'idempotencyKey' } : i)) };
  }
  const request = checkBody(INTAKE_REQUEST_SCHEMAS[name] as z.ZodType, envelope.value.request);
  if (!request.ok) return request;
  const key = envelope.value.idempotencyKey;
  return { ok: true, value: { request: request.value as IntakeRequest<N>, ...(key !== undefined ? { idempotencyKey: key } : {}) } };
}

/**
 * A refused intake job's failed reason: the API's error body (`error`, `message`, `issues` of
 * {field, rule, message}) as JSON, so a producer reads the same fields and rules a 400 names.
 */
export function intakeFailureReason(error: string, issues: InputIssue[]): string {
  return JSON.stringify({ error, message: issuesMessage(issues), issues } satisfies ErrorResponse);
}

/** The error body of a refused intake job's failed reason; null for any other failure. */
export function parseIntakeFailure(reason: string | undefined): (ErrorResponse & { issues: InputIssue[] }) | null {
  if (!reason?.startsWith('{')) return null;
  try {
    const body = JSON.parse(reason) as ErrorResponse;
    return typeof body.error === 'string' && Array.isArray(body.issues) ? (body as ErrorResponse & { issues: InputIssue[] }) : null;
  } catch {
    return null;
  }
}
