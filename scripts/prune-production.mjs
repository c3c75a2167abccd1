// Prunes a production install (`pnpm install --prod --node-linker=hoisted`, flat node_modules)
// down to what the workspace's production dependencies need at run time.
//
// Why: the lockfile resolves @prisma/client's and @bull-board's *optional* peers (prisma, the
// Prisma CLI with its studio and dev server; typescript) because the workspace has them as dev
// tools, and `--prod` installs the lockfile's resolution: ~200 MB that no scanq process loads.
// Kept: the closure of every workspace package's `dependencies` over each package's
// dependencies, optionalDependencies and required peerDependencies, resolved the way Node
// resolves (nearest node_modules upward). Everything else at the top level goes.
//
// Usage: node scripts/prune-production.mjs <install dir>   (the dir holding package.json + node_modules)
import { existsSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const dir = resolve(process.argv[2] ?? '.');
const nm = join(dir, 'node_modules');
if (!existsSync(nm)) {
  console.error(`prune-production: no node_modules in ${dir}`);
  process.exit(1);
}

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));
const workspaceDirs = ['apps', 'packages'].flatMap((d) => (existsSync(join(dir, d)) ? readdirSync(join(dir, d)).map((n) => join(dir, d, n)) : [])).filter((d) => existsSync(join(d, 'package.json')));

/** Node's lookup: `name` from a package at `from`, nearest node_modules upward, not above `dir`. */
function locate(name, from) {
  for (let at = from; at.startsWith(dir); at = dirname(at)) {
    const candidate = join(at, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (at === dir) break;
  }
  return null;
}

const kept = new Set();
const missing = [];
function keep(pkgDir) {
  if (kept.has(pkgDir)) return;
  kept.add(pkgDir);
  const pkg = readJson(join(pkgDir, 'package.json'));
  const optionalPeers = new Set(Object.entries(pkg.peerDependenciesMeta ?? {}).filter(([, m]) => m?.optional).map(([n]) => n));
  const needed = [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n))];
  for (const name of needed) {
    const at = locate(name, pkgDir);
    if (at) keep(at);
    else missing.push(`${name} (needed by ${relative(dir, pkgDir)})`);
  }
  // Optional dependencies (platform binaries and the like): kept where installed.
  for (const name of Object.keys(pkg.optionalDependencies ?? {})) {
    const at = locate(name, pkgDir);
    if (at) keep(at);
  }
}

for (const ws of workspaceDirs) {
  const pkg = readJson(join(ws, 'package.json'));
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    if (name.startsWith('@scanq/')) continue;
    const at = locate(name, ws);
    if (at) keep(at);
    else missing.push(`${name} (dependency of ${relative(dir, ws)})`);
  }
}
if (missing.length) {
  console.error(`prune-production: not installed: ${[...new Set(missing)].join(', ')}`);
  process.exit(1);
}

// Top-level entries (and scoped ones) none of whose kept packages live inside are removed.
const keptUnder = (path) => [...kept].some((k) => k === path || k.startsWith(path + sep));
let removed = 0;
for (const entry of readdirSync(nm)) {
  if (entry.startsWith('.')) continue;
  const paths = entry.startsWith('@') ? readdirSync(join(nm, entry)).map((s) => join(nm, entry, s)) : [join(nm, entry)];
  for (const path of paths) {
    if (keptUnder(path)) continue;
    rmSync(path, { recursive: true, force: true });
    removed++;
  }
  if (entry.startsWith('@') && readdirSync(join(nm, entry)).length === 0) rmSync(join(nm, entry), { recursive: true });
}
rmSync(join(nm, '.bin'), { recursive: true, force: true });
// A virtual store (left by `pnpm fetch` or an earlier isolated install): unused by the flat layout.
rmSync(join(nm, '.pnpm'), { recursive: true, force: true });

// @prisma/client ships a query compiler for every database (~12 MB each); the generated client
// (prisma/schema.prisma: provider postgresql) loads only the PostgreSQL one.
const prismaRuntime = join(nm, '@prisma', 'client', 'runtime');
if (existsSync(prismaRuntime)) {
  for (const file of readdirSync(prismaRuntime)) {
    if (/^query_compiler_\w+_bg\.(cockroachdb|mysql|sqlite|sqlserver)\./.test(file)) rmSync(join(prismaRuntime, file));
  }
}
console.log(`prune-production: kept ${kept.size} packages, removed ${removed} top-level ones`);
