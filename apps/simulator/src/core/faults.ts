/**
 * Faults injected on request (`POST /_sim/faults`): the next `count` calls to an API answer
 * with a server error, a throttling error, a hang (timeout) or a dropped connection. Each
 * front end renders `server_error`/`throttle` in its cloud's own error shape.
 */
export type FaultKind = 'server_error' | 'throttle' | 'timeout' | 'disconnect';

export interface FaultRule {
  cloud: string;
  /** API name (e.g. `StartImageScan`), or `*` for every API of the cloud. */
  api: string;
  kind: FaultKind;
  /** How many calls the fault applies to; decremented as they are hit. */
  count: number;
}

export class FaultInjector {
  private rules: FaultRule[] = [];

  add(rule: FaultRule): void {
    this.rules.push({ ...rule });
  }

  /** Takes one matching fault, if any is armed for this call. */
  take(cloud: string, api: string): FaultKind | undefined {
    const rule = this.rules.find((r) => r.cloud === cloud && (r.api === api || r.api === '*') && r.count > 0);
    if (!rule) return undefined;
    rule.count -= 1;
    if (rule.count === 0) this.rules = this.rules.filter((r) => r !== rule);
    return rule.kind;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  reset(): void {
    this.rules = [];
  }
}
