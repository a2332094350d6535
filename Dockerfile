# One image for the five services and the topic job; the command picks what runs:
#   node -r @swc-node/register apps/<app>/src/main.ts      (service)
#   node -r @swc-node/register tools/infra/cli.ts topics   (registry topics on KAFKA_BROKERS)
# TypeScript runs through SWC at load time, as in development, so there is no build step
# (that is why dev dependencies are installed).
FROM node:20-bookworm-slim

ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    # Containers listen on every interface; the services default to 127.0.0.1.
    HOST=0.0.0.0
WORKDIR /app

COPY package.json package-lock.json .npmrc ./
# npm install, not npm ci: see .ci/run (lock files from npm 11 omit optional per-platform packages).
RUN npm install --include=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.base.json tsconfig.json ./
COPY libs ./libs
COPY apps ./apps
COPY tools/infra ./tools/infra

USER node
ENTRYPOINT ["node", "-r", "@swc-node/register"]
CMD ["apps/control/src/main.ts"]
