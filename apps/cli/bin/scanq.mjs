#!/usr/bin/env node
// The `scanq` executable of a checkout: the CLI's TypeScript run through tsx (a dev dependency);
// the production image runs the compiled dist/scanq.js instead (pnpm build).
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
