import { loadConfig } from '@headroom/config';
import { runService } from '@headroom/runtime';
import { AppModule } from './app.module';
import { analyticsEnvSchema } from './config';

runService('analytics', () => loadConfig(analyticsEnvSchema, process.env), (config, logger) => AppModule.forRoot(config, logger));
