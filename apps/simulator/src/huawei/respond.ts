import type { SimRequest, SimResponse } from '../core/frontend.js';
import { InvalidParameter, hssError, invalidParameter, newRequestId, requestIdHeaders } from './errors.js';
import { type JsonObject, isObject } from './validation.js';

/** A 200 answer with the X-Request-Id every HSS response carries (`undefined` = empty body). */
export function ok(body?: unknown): SimResponse {
  return { status: 200, headers: requestIdHeaders(newRequestId()), body };
}

/** Runs a handler body, turning a thrown InvalidParameter into HSS.0001. */
export function validated(run: () => SimResponse): SimResponse {
  try {
    return run();
  } catch (err) {
    if (err instanceof InvalidParameter) return invalidParameter(err);
    throw err;
  }
}

/** The JSON object body, `{}` when empty, or the HSS.0002 answer for anything unparsable. */
export function jsonBody(req: SimRequest): { body: JsonObject } | { error: SimResponse } {
  if (req.rawBody.length === 0) return { body: {} };
  let body: unknown;
  try {
    body = JSON.parse(req.rawBody.toString('utf8'));
  } catch {
    return { error: hssError('parseFailed', 'The request body is not valid JSON.') };
  }
  return isObject(body) ? { body } : { error: hssError('parseFailed', 'The request body must be a JSON object.') };
}
