import type { CallCounterSnapshot } from '../../apps/simulator/src/core/call-counter.js';

/** The simulator's call counters (`GET /_sim/calls`): what tests and benches judge provider calls by. */
export async function simulatorCalls(simUrl: string): Promise<CallCounterSnapshot> {
  const res = await fetch(`${simUrl}/_sim/calls`);
  if (!res.ok) throw new Error(`simulator calls: ${res.status} ${await res.text()}`);
  return (await res.json()) as CallCounterSnapshot;
}
