import { loadConfig } from '@headroom/config';
import { runService } from '@headroom/runtime';
import { AppModule } from './app.module';
import { collectorsEnvSchema } from './config';

runService('collectors', () => loadConfig(collectorsEnvSchema, process.env), (config, logger) => AppModule.forRoot(config, logger));
