#!/usr/bin/env node
// The `scanq` executable: the CLI is TypeScript, run through tsx like every scanq entry point.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
