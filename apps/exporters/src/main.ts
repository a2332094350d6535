import { loadConfig } from '@headroom/config';
import { runService } from '@headroom/runtime';
import { AppModule } from './app.module';
import { exportersEnvSchema } from './config';

runService('exporters', () => loadConfig(exportersEnvSchema, process.env), (config, logger) => AppModule.forRoot(config, logger));
