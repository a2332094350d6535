import { Module, type DynamicModule } from '@nestjs/common';
import type { Pool } from 'pg';
import { PG_POOL } from '@headroom/database';
import type { AnalyticsConfig } from '../config';
import { DetectorStateRepository } from './detector-state.repository';
import { SIGNALS_SETTINGS, SignalsService, type SignalsSettings } from './signals.service';
import { StreamDetectors } from './stream-detectors';

/**
 * Imported by the windows module, so Nest runs its shutdown hook after the telemetry consumer's
 * (hooks run from the root outwards): the last flush has fed the detectors before they are saved.
 */
@Module({})
export class SignalsModule {
  static forRoot(config: AnalyticsConfig): DynamicModule {
    const settings: SignalsSettings = {
      defaults: config.DETECTORS,
      checkpointWindows: config.DETECTOR_CHECKPOINT_WINDOWS,
      windowMs: config.WINDOW_MS,
      maxReplayWindows: config.DETECTOR_MAX_REPLAY_WINDOWS,
    };
    return {
      module: SignalsModule,
      providers: [
        { provide: SIGNALS_SETTINGS, useValue: settings },
        { provide: DetectorStateRepository, inject: [PG_POOL], useFactory: (pool: Pool) => new DetectorStateRepository(pool) },
        { provide: StreamDetectors, useFactory: () => new StreamDetectors({ anomalyThreshold: config.ANOMALY_THRESHOLD, windowMs: config.WINDOW_MS }) },
        SignalsService,
      ],
      exports: [SignalsService],
    };
  }
}
