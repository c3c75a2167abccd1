// Runs `prisma generate` inside install, offline.
// The Prisma CLI insists on a schema-engine binary even though `generate` never runs it, and
// downloading one fails on networks that only reach the npm registry. When no engine is
// configured we point PRISMA_SCHEMA_ENGINE_BINARY at a placeholder file: generate then works
// and the client (which runs through @prisma/adapter-pg, no native engine) is unaffected.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, PRISMA_HIDE_UPDATE_MESSAGE: '1', CHECKPOINT_DISABLE: '1' };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  const placeholder = join(root, 'node_modules', '.cache', 'scanq', 'schema-engine-placeholder');
  mkdirSync(dirname(placeholder), { recursive: true });
  writeFileSync(placeholder, '#!/bin/sh\necho "scanq: placeholder schema engine; use pnpm migrate" >&2\nexit 1\n', { mode: 0o755 });
  env.PRISMA_SCHEMA_ENGINE_BINARY = placeholder;
}
const prismaBin = join(root, 'node_modules', '.bin', 'prisma');
const result = spawnSync(prismaBin, ['generate'], { cwd: root, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
