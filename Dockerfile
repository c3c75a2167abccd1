# One image for every scanq process (api, worker, simulator, migrate); the compose file picks
# the command. TypeScript runs through tsx, so there is no separate build step.
FROM node:20-bookworm-slim
WORKDIR /app
RUN npm install -g pnpm@10.34.8
COPY . .
RUN pnpm install --frozen-lockfile
ENV NODE_ENV=production
CMD ["node", "--import", "tsx", "apps/api/src/main.ts"]
