import { loadConfig } from '@headroom/config';
import { bootstrapService, createLogger } from '@headroom/runtime';
import { AppModule } from './app.module';
import { collectorsEnvSchema } from './config';

// runService, plus the ingest body limit: Fastify refuses a larger body (413) without buffering it.
const start = async () => {
  const config = loadConfig(collectorsEnvSchema, process.env);
  const logger = createLogger('collectors', config.LOG_LEVEL);
  await bootstrapService(AppModule.forRoot(config, logger), {
    host: config.HOST,
    port: config.PORT,
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    bodyLimit: config.INGEST_MAX_BODY_BYTES,
  });
};
start().catch((err) => {
  process.stderr.write(`collectors failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
