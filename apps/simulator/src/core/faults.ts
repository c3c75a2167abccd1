import { seededRandom } from './seed.js';

/**
 * Faults injected on request (`POST /_sim/faults`), per cloud and API (`*` for all):
 * - a count rule answers the next `count` matching calls with the fault;
 * - a rate rule gives each matching call the fault with probability `rate`, drawn from its own
 *   seeded PRNG (`seed`, else the simulator seed and the rule's number since the last reset),
 *   so the same calls in the same order get the same faults in every run.
 *
 * Kinds — the first four never reach the cloud's logic (nothing is created):
 * - `server_error` / `throttle`: the cloud's own error shape (each front end renders it);
 * - `timeout`: no answer; the connection is held until the client gives up (5 min at most,
 *   then it is dropped unanswered);
 * - `disconnect`: the TCP connection is dropped before the call is handled.
 * The last two model the ambiguous case a real cloud has, where the call took effect but its
 * answer never arrived (the task exists, the client cannot know):
 * - `drop_response`: the call is handled (a task is created), then the connection is dropped;
 * - `hang_response`: the call is handled, then no answer, as for `timeout`.
 */
export const FAULT_KINDS = ['server_error', 'throttle', 'timeout', 'disconnect', 'drop_response', 'hang_response'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults that answer in the cloud's own error shape (the rest drop or hold the connection). */
export type AnsweredFault = Extract<FaultKind, 'server_error' | 'throttle'>;

interface RuleBase {
  /** Numbered from 1 since the last reset. */
  id: number;
  /** A cloud (`aws`, `alibaba`, `tencent`, `huawei`) or `*` for all. */
  cloud: string;
  /** API name (e.g. `StartImageScan`), or `*` for every API of the cloud. */
  api: string;
  kind: FaultKind;
  /** Faults this rule has injected so far. */
  injected: number;
}

export interface CountFaultRule extends RuleBase {
  /** Calls it still applies to; the rule is gone once this reaches 0. */
  count: number;
}

export interface RateFaultRule extends RuleBase {
  /** Probability (0 < rate ≤ 1) that a matching call gets the fault. */
  rate: number;
  /** What the rule's PRNG is seeded from. */
  seed: string;
}

export type FaultRule = CountFaultRule | RateFaultRule;

/** One broken rule of a fault request, as a 400 reports it. */
export interface FaultIssue {
  /** Where it is, e.g. `rate` or `[1].kind` when several rules were sent. */
  field: string;
  /** The rule it broke: `required`, `type`, `one_of`, `minimum`, `maximum`, `exclusive`, `unknown_field`. */
  rule: string;
  message: string;
}

export class FaultRuleError extends Error {
  constructor(readonly issues: FaultIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  }
}

const RULE_FIELDS = new Set(['cloud', 'api', 'kind', 'count', 'rate', 'seed']);
const MAX_API_LENGTH = 128;
const MAX_SEED_LENGTH = 256;

type RuleSpec = { cloud: string; api: string; kind: FaultKind } & ({ count: number } | { rate: number; seed?: string });

/**
 * Checks one rule as sent (`prefix` names it among several) against the clouds served; returns
 * every issue, not only the first.
 */
function checkRule(input: unknown, clouds: readonly string[], prefix: string): { spec?: RuleSpec; issues: FaultIssue[] } {
  const issues: FaultIssue[] = [];
  const at = (field: string) => `${prefix}${field}`;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { issues: [{ field: prefix.replace(/\.$/, '') || 'body', rule: 'type', message: 'must be a JSON object (a fault rule)' }] };
  }
  const rule = input as Record<string, unknown>;
  for (const key of Object.keys(rule)) {
    if (!RULE_FIELDS.has(key)) issues.push({ field: at(key), rule: 'unknown_field', message: `is not a fault rule field (${[...RULE_FIELDS].join(', ')})` });
  }
  const cloudValues = ['*', ...clouds];
  if (rule.cloud === undefined) issues.push({ field: at('cloud'), rule: 'required', message: `is required: one of ${cloudValues.join(', ')}` });
  else if (typeof rule.cloud !== 'string' || !cloudValues.includes(rule.cloud)) issues.push({ field: at('cloud'), rule: 'one_of', message: `must be one of ${cloudValues.join(', ')}` });
  if (rule.api === undefined) issues.push({ field: at('api'), rule: 'required', message: 'is required: an API name, or * for every API' });
  else if (typeof rule.api !== 'string' || rule.api.length === 0 || rule.api.length > MAX_API_LENGTH) {
    issues.push({ field: at('api'), rule: 'type', message: `must be an API name (1–${MAX_API_LENGTH} characters) or *` });
  }
  if (rule.kind === undefined) issues.push({ field: at('kind'), rule: 'required', message: `is required: one of ${FAULT_KINDS.join(', ')}` });
  else if (!FAULT_KINDS.includes(rule.kind as FaultKind)) issues.push({ field: at('kind'), rule: 'one_of', message: `must be one of ${FAULT_KINDS.join(', ')}` });

  if (rule.count !== undefined && rule.rate !== undefined) {
    issues.push({ field: at('rate'), rule: 'exclusive', message: 'a rule has either count (the next N calls) or rate (a share of calls), not both' });
  } else if (rule.rate !== undefined) {
    if (typeof rule.rate !== 'number' || !Number.isFinite(rule.rate)) issues.push({ field: at('rate'), rule: 'type', message: 'must be a number' });
    else if (rule.rate <= 0) issues.push({ field: at('rate'), rule: 'minimum', message: 'must be greater than 0' });
    else if (rule.rate > 1) issues.push({ field: at('rate'), rule: 'maximum', message: 'must be at most 1 (a probability)' });
  } else if (rule.count !== undefined) {
    if (typeof rule.count !== 'number' || !Number.isInteger(rule.count)) issues.push({ field: at('count'), rule: 'type', message: 'must be an integer' });
    else if (rule.count < 1) issues.push({ field: at('count'), rule: 'minimum', message: 'must be at least 1' });
  }
  if (rule.seed !== undefined) {
    if (rule.rate === undefined) issues.push({ field: at('seed'), rule: 'constraint', message: 'applies to rate rules only' });
    else if (!((typeof rule.seed === 'string' && rule.seed.length > 0 && rule.seed.length <= MAX_SEED_LENGTH) || (typeof rule.seed === 'number' && Number.isFinite(rule.seed)))) {
      issues.push({ field: at('seed'), rule: 'type', message: `must be a string (1–${MAX_SEED_LENGTH} characters) or a number` });
    }
  }
  if (issues.length > 0) return { issues };
  const base = { cloud: rule.cloud as string, api: rule.api as string, kind: rule.kind as FaultKind };
  // Neither count nor rate: the next call only, as before rate rules existed.
  const spec: RuleSpec =
    rule.rate !== undefined ? { ...base, rate: rule.rate as number, ...(rule.seed !== undefined ? { seed: String(rule.seed) } : {}) } : { ...base, count: (rule.count as number | undefined) ?? 1 };
  return { spec, issues };
}

/** A `POST /_sim/faults` body — one rule, or an array of rules — checked whole: all are added or none. */
export function parseFaultRules(body: unknown, clouds: readonly string[]): RuleSpec[] {
  const many = Array.isArray(body);
  const inputs: unknown[] = many ? body : [body];
  if (many && inputs.length === 0) throw new FaultRuleError([{ field: 'body', rule: 'min_items', message: 'must hold at least one fault rule' }]);
  const specs: RuleSpec[] = [];
  const issues: FaultIssue[] = [];
  inputs.forEach((input, i) => {
    const checked = checkRule(input, clouds, many ? `[${i}].` : '');
    if (checked.spec) specs.push(checked.spec);
    issues.push(...checked.issues);
  });
  if (issues.length > 0) throw new FaultRuleError(issues);
  return specs;
}

interface ArmedRateRule {
  rule: RateFaultRule;
  random: () => number;
}

export class FaultInjector {
  private counted: CountFaultRule[] = [];
  private rated: ArmedRateRule[] = [];
  private nextId = 1;

  /** `simSeed` (SIM_SEED) seeds rate rules that bring no seed of their own. */
  constructor(private readonly simSeed = 'scanq') {}

  add(spec: RuleSpec): FaultRule {
    const id = this.nextId++;
    const base = { id, cloud: spec.cloud, api: spec.api, kind: spec.kind, injected: 0 };
    if ('rate' in spec) {
      const seed = spec.seed ?? `${this.simSeed}/fault-rule-${id}`;
      const rule: RateFaultRule = { ...base, rate: spec.rate, seed };
      this.rated.push({ rule, random: seededRandom(`fault:${seed}`) });
      return { ...rule };
    }
    const rule: CountFaultRule = { ...base, count: spec.count };
    this.counted.push(rule);
    return { ...rule };
  }

  /**
   * The fault for this call, if any: an armed count rule first (oldest first), else the rate
   * rules. Every matching rate rule draws for every call it matches, hit or not, so each rule's
   * sequence of draws depends only on the calls it matches; the first that hits wins.
   */
  take(cloud: string, api: string): FaultKind | undefined {
    const matches = (r: RuleBase) => (r.cloud === cloud || r.cloud === '*') && (r.api === api || r.api === '*');
    const counted = this.counted.find((r) => matches(r) && r.count > 0);
    let hit: RuleBase | undefined;
    if (counted) {
      counted.count -= 1;
      if (counted.count === 0) this.counted = this.counted.filter((r) => r !== counted);
      hit = counted;
    }
    for (const armed of this.rated) {
      if (!matches(armed.rule)) continue;
      const drawn = armed.random() < armed.rule.rate;
      if (drawn && !hit) hit = armed.rule;
    }
    if (!hit) return undefined;
    hit.injected += 1;
    return hit.kind;
  }

  /** Armed rules in the order they were added (count rules with the calls they have left). */
  list(): FaultRule[] {
    return [...this.counted.map((r) => ({ ...r })), ...this.rated.map(({ rule }) => ({ ...rule }))].sort((a, b) => a.id - b.id);
  }

  /** Disarms every rule; rule numbers (and so the default seeds) start again from 1. */
  reset(): void {
    this.counted = [];
    this.rated = [];
    this.nextId = 1;
  }
}
