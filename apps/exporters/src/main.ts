import { loadConfig } from '@headroom/config';
import { bootstrapService, createLogger } from '@headroom/runtime';
import { AppModule } from './app.module';
import { exportersEnvSchema } from './config';

async function main() {
  const config = loadConfig(exportersEnvSchema, process.env);
  const logger = createLogger('exporters', config.LOG_LEVEL);
  await bootstrapService(AppModule.forRoot(config, logger), {
    host: config.HOST,
    port: config.PORT,
    logger,
    shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS,
  });
}

main().catch((err) => {
  // Config errors list every bad key; print them plainly and exit non-zero.
  process.stderr.write(`exporters failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
