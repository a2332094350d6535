import { loadConfig } from '@headroom/config';
import { runService } from '@headroom/runtime';
import { AppModule } from './app.module';
import { alertingEnvSchema } from './config';

runService('alerting', () => loadConfig(alertingEnvSchema, process.env), (config, logger) => AppModule.forRoot(config, logger));
