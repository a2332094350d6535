import { loadConfig } from '@headroom/config';
import { runService } from '@headroom/runtime';
import { AppModule } from './app.module';
import { controlEnvSchema } from './config';

runService('control', () => loadConfig(controlEnvSchema, process.env), (config, logger) => AppModule.forRoot(config, logger));
