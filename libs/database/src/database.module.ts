import { DynamicModule, Global, Inject, Injectable, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Pool } from 'pg';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';

export const PG_POOL = Symbol('PG_POOL');

@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    // An idle client can die with the server; without a listener pg's error would crash the process.
    this.pool.on('error', (err) => this.logger.warn({ err: String(err) }, 'idle PostgreSQL client failed'));
    this.readiness.register('postgres', async () => (await this.pool.query('select 1')).rowCount === 1);
  }

  /** Runs after every module's beforeApplicationShutdown, so consumers have finished writing. */
  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * A service's PostgreSQL pool (each service owns one schema that no other service reads), with a
 * readiness check and a clean close on shutdown.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forRoot(options: { url: string; maxConnections?: number }): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        { provide: PG_POOL, useFactory: () => new Pool({ connectionString: options.url, max: options.maxConnections ?? 5, connectionTimeoutMillis: 5_000 }) },
        DatabaseLifecycle,
      ],
      exports: [PG_POOL],
    };
  }
}
