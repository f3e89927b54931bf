# Production image: dependencies installed from the lock file in a build stage, then copied into a
# slim runtime that runs as the unprivileged `node` user. TypeScript runs through tsx (a runtime
# dependency), so there is no separate compile step to drift from the tested sources.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=4000 METRICS_PORT=9464
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node package.json tsconfig.json ./
COPY --chown=node:node src ./src
# The client operations' names are the only operation names metrics label series with.
COPY --chown=node:node schema/operations ./schema/operations
USER node
# 4000: the API (behind the load balancer); 9464: /metrics, for Prometheus only.
EXPOSE 4000 9464
CMD ["node", "--import", "tsx", "src/main.ts"]
