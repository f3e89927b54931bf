# Production image. A build stage installs every dependency from the lock file, compiles src/ (and
# the close-code table it shares with client/) to dist/ and drops the dev dependencies; the
# runtime stage gets only dist/ and the production node_modules, and runs compiled JavaScript as
# the unprivileged `node` user.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# The board's page script (src/board/browser.ts, with the client library) is bundled into dist/
# by the build.
COPY client ./client
COPY scripts/build-board.ts ./scripts/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 METRICS_PORT=9464
WORKDIR /app
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node package.json ./
# The client operations' names are the only operation names metrics label series with.
COPY --chown=node:node schema/operations ./schema/operations
USER node
# 4000: the API (behind the load balancer); 9464: /metrics, for Prometheus only.
EXPOSE 4000 9464
CMD ["node", "dist/src/main.js"]
