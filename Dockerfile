# syntax=docker/dockerfile:1
# One image for every scanq process; the command picks which (compose, Kubernetes):
#   node dist/api.js | dist/worker.js | dist/simulator.js | dist/migrate.js | dist/scanq.js (CLI)
# Compiled JavaScript (`pnpm build`: esbuild, one bundle per entry), production dependencies
# only, run as the unprivileged `node` user. test/e2e/production-image.test.ts runs the stages
# below (their COPY and RUN lines, read from this file) in a temp dir and a scan through the result.

FROM node:20-bookworm-slim AS pnpm
# The pnpm store lives in a BuildKit cache mount: kept between builds, never in a layer.
ENV CI=true npm_config_store_dir=/pnpm/store
RUN npm install -g pnpm@10.34.8
WORKDIR /app

# Dependency layers: rebuilt when the lockfile or a package.json changes, never for source.
FROM pnpm AS manifests
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY apps/api/package.json apps/api/
COPY apps/cli/package.json apps/cli/
COPY apps/simulator/package.json apps/simulator/
COPY apps/worker/package.json apps/worker/
COPY packages/producer/package.json packages/producer/
COPY packages/client/package.json packages/client/
COPY packages/core/package.json packages/core/
COPY packages/db/package.json packages/db/
COPY packages/providers/package.json packages/providers/
COPY packages/queue/package.json packages/queue/
COPY packages/scans/package.json packages/scans/
COPY scripts/prune-production.mjs scripts/

# Everything the build needs (TypeScript, esbuild, the Prisma generator).
FROM manifests AS deps
RUN --mount=type=cache,id=scanq-pnpm-store,target=/pnpm/store pnpm install --frozen-lockfile --ignore-scripts

# Production dependencies: one flat node_modules (the bundles resolve npm packages from it),
# less what nothing loads at run time (scripts/prune-production.mjs says what and why).
FROM manifests AS prod-deps
RUN --mount=type=cache,id=scanq-pnpm-store,target=/pnpm/store pnpm install --prod --frozen-lockfile --ignore-scripts --node-linker=hoisted
RUN node scripts/prune-production.mjs .

FROM deps AS build
COPY . .
RUN node scripts/prisma-generate.mjs
RUN pnpm build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
# API 3000, worker health/metrics 9464, simulator 4566.
EXPOSE 3000 9464 4566
# The API's /healthz; compose and Kubernetes give the worker and the simulator their own checks.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "dist/healthcheck.js"]
CMD ["node", "--enable-source-maps", "dist/api.js"]
