/**
 * Canned replies (`POST /_sim/replies`): the next `count` calls of one cloud's API are answered
 * with a body given verbatim (status and headers too) instead of the simulated cloud's logic.
 * Conformance tests serve the clouds' documented example responses this way, so the real SDK
 * parses exactly the bytes the documents show; each served call keeps the request it answered
 * (query and body as sent), so a test can also check what the SDK asked.
 */
export interface CannedReplySpec {
  cloud: string;
  api: string;
  status: number;
  headers: Record<string, string>;
  /** Sent as-is (no re-serialization): the document's bytes. */
  body: string;
  count: number;
}

export interface ServedRequest {
  query: string;
  body: string;
}

export interface CannedReply extends CannedReplySpec {
  id: number;
  served: ServedRequest[];
}

export interface ReplyIssue {
  field: string;
  rule: string;
  message: string;
}

export class ReplyRuleError extends Error {
  constructor(readonly issues: ReplyIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  }
}

const FIELDS = new Set(['cloud', 'api', 'status', 'headers', 'body', 'count']);

/** One rule or an array of them, checked whole: every broken field with its rule, or none added. */
export function parseReplyRules(input: unknown, clouds: readonly string[]): CannedReplySpec[] {
  const many = Array.isArray(input);
  const items: unknown[] = many ? (input as unknown[]) : [input];
  const issues: ReplyIssue[] = [];
  const specs: CannedReplySpec[] = [];
  items.forEach((item, i) => {
    const at = (f: string) => (many ? `[${i}].${f}` : f);
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      issues.push({ field: many ? `[${i}]` : 'body', rule: 'type', message: 'must be a JSON object (a canned reply)' });
      return;
    }
    const r = item as Record<string, unknown>;
    for (const key of Object.keys(r)) if (!FIELDS.has(key)) issues.push({ field: at(key), rule: 'unknown_field', message: `is not a canned reply field (${[...FIELDS].join(', ')})` });
    if (typeof r.cloud !== 'string' || !clouds.includes(r.cloud)) issues.push({ field: at('cloud'), rule: 'one_of', message: `must be one of ${clouds.join(', ')}` });
    if (typeof r.api !== 'string' || r.api.length === 0 || r.api.length > 128) issues.push({ field: at('api'), rule: 'type', message: 'must be an API name (1–128 characters)' });
    if (typeof r.body !== 'string') issues.push({ field: at('body'), rule: 'type', message: 'must be a string (sent verbatim; empty for an empty body)' });
    const status = r.status ?? 200;
    if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) issues.push({ field: at('status'), rule: 'type', message: 'must be an HTTP status (100–599)' });
    const count = r.count ?? 1;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) issues.push({ field: at('count'), rule: 'minimum', message: 'must be an integer of at least 1' });
    const headers = r.headers ?? {};
    if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) {
      issues.push({ field: at('headers'), rule: 'type', message: 'must be an object of string header values' });
    }
    if (issues.length === 0) {
      specs.push({ cloud: r.cloud as string, api: r.api as string, status: status as number, headers: headers as Record<string, string>, body: r.body as string, count: count as number });
    }
  });
  if (issues.length > 0) throw new ReplyRuleError(issues);
  return specs;
}

export class CannedReplies {
  private armed: CannedReply[] = [];
  private done: CannedReply[] = [];
  private nextId = 1;

  add(spec: CannedReplySpec): CannedReply {
    const reply: CannedReply = { ...spec, id: this.nextId++, served: [] };
    this.armed.push(reply);
    return reply;
  }

  /** The reply for this call (oldest armed rule first), with the request recorded on it. */
  take(cloud: string, api: string, request: ServedRequest): CannedReply | undefined {
    const reply = this.armed.find((r) => r.cloud === cloud && r.api === api);
    if (!reply) return undefined;
    reply.served.push(request);
    if (reply.served.length >= reply.count) {
      this.armed = this.armed.filter((r) => r !== reply);
      this.done.push(reply);
    }
    return reply;
  }

  /** Every rule since the last reset, armed or used up, with the requests each answered. */
  list(): CannedReply[] {
    return [...this.done, ...this.armed].sort((a, b) => a.id - b.id).map((r) => ({ ...r, served: [...r.served] }));
  }

  reset(): void {
    this.armed = [];
    this.done = [];
    this.nextId = 1;
  }
}
