// `pnpm build`: compiles the process entry points to plain JavaScript under dist/ (or --outdir),
// so that the production image runs `node dist/<name>.js` with no tsx and no TypeScript.
//
// esbuild bundles each entry with the workspace packages (@scanq/*, TypeScript sources, the
// generated Prisma client included) inlined, and every npm package left external: those come
// from the production install (`pnpm install --prod --node-linker=hoisted`, one flat
// node_modules beside dist/). tsc project builds were the other way: they would need every
// workspace package.json to point its exports at a dist/ of its own in production and the
// Prisma client compiled apart; one bundle per entry needs neither.
//
// Checks that keep the bundle and the production install in step (each fails the build):
// - every external package is a production dependency of some workspace package (else the
//   production install would not have it);
// - every external package has one version across the workspace (the flat node_modules holds
//   one copy at the top, which each bundle resolves).
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { parse as parseYaml } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outArg = process.argv.indexOf('--outdir');
const outdir = resolve(outArg > 0 ? process.argv[outArg + 1] : join(root, 'dist'));

/** dist/<name>.js ← entry. */
const ENTRIES = {
  api: 'apps/api/src/main.ts',
  worker: 'apps/worker/src/main.ts',
  simulator: 'apps/simulator/src/main.ts',
  migrate: 'packages/db/src/migrate-cli.ts',
  scanq: 'apps/cli/src/main.ts',
  healthcheck: 'scripts/healthcheck.ts',
};

const fail = (msg) => {
  console.error(`build: ${msg}`);
  process.exit(1);
};

if (!existsSync(join(root, 'packages/db/src/generated/prisma/client.ts'))) {
  fail('the Prisma client is not generated: run `node scripts/prisma-generate.mjs` first');
}

// Production dependencies of every workspace package, and the versions the lockfile gives them.
const workspaceDirs = ['apps', 'packages'].flatMap((d) => readdirSync(join(root, d)).map((n) => `${d}/${n}`)).filter((d) => existsSync(join(root, d, 'package.json')));
const prodDeps = new Set();
for (const dir of workspaceDirs) {
  const pkg = JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
  for (const name of Object.keys(pkg.dependencies ?? {})) if (!name.startsWith('@scanq/')) prodDeps.add(name);
}
const lock = parseYaml(readFileSync(join(root, 'pnpm-lock.yaml'), 'utf8'));
const lockedVersions = (name) =>
  new Set(workspaceDirs.map((dir) => lock.importers?.[dir]?.dependencies?.[name]?.version).filter(Boolean));

const packageName = (spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
const builtins = new Set(builtinModules);
const externals = new Set();
const specifiers = new Set();

/** Bare imports: @scanq/* is bundled; node builtins and npm packages stay imports. */
const externalNpm = {
  name: 'external-npm',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('@scanq/')) return undefined;
      if (args.path.startsWith('node:') || builtins.has(args.path)) return { path: args.path, external: true };
      externals.add(packageName(args.path));
      specifiers.add(args.path);
      return { path: args.path, external: true };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, file]) => [name, join(root, file)])),
  outdir,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  // Stack traces name our functions; the code is small next to node_modules.
  minify: false,
  plugins: [externalNpm],
  logLevel: 'warning',
  metafile: true,
});
if (result.errors.length) process.exit(1);

const undeclared = [...externals].filter((name) => !prodDeps.has(name)).sort();
if (undeclared.length) fail(`imported but no workspace package lists it under dependencies (the production install would lack it): ${undeclared.join(', ')}`);
const split = [...externals].filter((name) => lockedVersions(name).size > 1).map((name) => `${name} (${[...lockedVersions(name)].join(', ')})`);
if (split.length) fail(`one version per external package is needed for the flat production node_modules: ${split.join('; ')}`);

// Files the code reads beside itself (import.meta.url): the queue's Lua scripts, the migrations
// and the dashboard's static files.
cpSync(join(root, 'packages/queue/src/lua'), join(outdir, 'lua'), { recursive: true });
cpSync(join(root, 'apps/api/src/ui/static'), join(outdir, 'static'), { recursive: true });
cpSync(join(root, 'prisma/migrations'), join(outdir, 'migrations'), { recursive: true });
writeFileSync(join(outdir, 'package.json'), `${JSON.stringify({ name: 'scanq-dist', private: true, type: 'module' }, null, 2)}\n`);
// What the bundles import from node_modules: the packages, and the exact specifiers (the image test loads each).
writeFileSync(join(outdir, 'externals.json'), `${JSON.stringify({ packages: [...externals].sort(), specifiers: [...specifiers].sort() }, null, 2)}\n`);
console.log(`build: ${Object.keys(ENTRIES).length} entries → ${outdir} (${externals.size} external packages)`);
