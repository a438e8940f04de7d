# syntax=docker/dockerfile:1

# ---- build: all dependencies, compile TypeScript to dist/ -------------------------------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build

# ---- dev: the build plus tests and tools, for `docker compose --profile test run --rm test`
FROM build AS dev
COPY vitest.config.ts biome.json ./
COPY test ./test
COPY tools ./tools
COPY bench ./bench
CMD ["npm", "test"]

# ---- runtime: production dependencies and the compiled dist/ only ------------------------
FROM node:20-bookworm-slim AS runtime
# REQUIRE_DATABASE_URL: in the container the database is external (compose's postgres);
# without DATABASE_URL the server stops with a clear message instead of trying to start
# embedded PostgreSQL (which is not installed here: optional dependencies are omitted).
# AUTH=required: a deployed service needs keys (create one with `npm run keys -- create NAME`).
ENV NODE_ENV=production \
    REQUIRE_DATABASE_URL=1 \
    AUTH=required \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
COPY package.json package-lock.json ./
# No tsx here: the npm scripts a user runs in the container point at the compiled CLIs.
RUN npm ci --omit=dev --omit=optional \
 && npm cache clean --force \
 && npm pkg set \
      'scripts.start=node dist/server.js' \
      'scripts.db:migrate=node dist/cli/migrate.js up' \
      'scripts.db:migrate:down=node dist/cli/migrate.js down' \
      'scripts.import=node dist/cli/import-events.js' \
      'scripts.keys=node dist/cli/keys.js'
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
USER node
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node as PID 1 (not npm) so SIGTERM from `docker stop` reaches the server's graceful shutdown.
CMD ["node", "dist/server.js"]
