import { loadConfig } from '@headroom/config';
import { bootstrapService, createLogger } from '@headroom/runtime';
import { AppModule } from './app.module';
import { controlEnvSchema } from './config';

async function main() {
  const config = loadConfig(controlEnvSchema, process.env);
  const logger = createLogger('control', config.LOG_LEVEL);
  await bootstrapService(AppModule.forRoot(config, logger), {
    host: config.HOST,
    port: config.PORT,
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
}

main().catch((err) => {
  process.stderr.write(`control failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
