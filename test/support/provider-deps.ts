import type { ProviderDeps } from '@scanq/providers';

/** Adapters a test builds itself talk to the simulator on 127.0.0.1: the endpoint rule must allow loopback. */
export const SIM_DEPS: ProviderDeps = { endpoints: { allowLoopback: true } };
