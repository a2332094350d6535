import { Module, type DynamicModule } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '@headroom/database';
import type { AnalyticsConfig } from '../config';
import { PrometheusApiController } from './prometheus-api.controller';
import { QueryController } from './query.controller';
import { QueryRepository } from './query.repository';
import { QUERY_CLOCK, QUERY_LIMITS, QueryService, type QueryLimits } from './query.service';

/** Read side of analytics: `/v1/query/*` and the Prometheus-compatible `/prometheus/api/v1/*`. */
@Module({})
export class QueryModule {
  static forRoot(config: AnalyticsConfig): DynamicModule {
    const limits: QueryLimits = {
      maxSeries: config.QUERY_MAX_SERIES,
      maxPointsPerSeries: config.QUERY_MAX_POINTS_PER_SERIES,
      maxWindows: config.QUERY_MAX_WINDOWS,
      lookbackMs: config.QUERY_LOOKBACK_MS,
      // A coarse window is written ROLLUP_DELAY_MS after it ends, at the next rollup tick; a 1 h one after its last minute's.
      rollupLagMs: config.ROLLUP_DELAY_MS + 3 * config.ROLLUP_INTERVAL_MS,
    };
    return {
      module: QueryModule,
      controllers: [QueryController, PrometheusApiController],
      providers: [
        { provide: QueryRepository, inject: [PG_POOL], useFactory: (pool: Pool) => new QueryRepository(pool) },
        { provide: QUERY_LIMITS, useValue: limits },
        { provide: QUERY_CLOCK, useValue: () => Date.now() },
        QueryService,
      ],
    };
  }
}
