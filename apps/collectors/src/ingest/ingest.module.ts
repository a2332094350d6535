import { Module, type DynamicModule } from '@nestjs/common';
import { TelemetryBatchMessage } from '@headroom/contracts';
import type { RecordPublisher } from '@headroom/kafka';
import { PUBLISHER } from '@headroom/tenancy';
import type { CollectorsConfig } from '../config';
import { IngestLimiter } from '../limits/ingest-limiter';
import { IngestController } from './ingest.controller';
import { IngestService, TELEMETRY_SINK, type TelemetrySink } from './ingest.service';

@Module({})
export class IngestModule {
  static forRoot(config: CollectorsConfig): DynamicModule {
    return {
      module: IngestModule,
      controllers: [IngestController],
      providers: [
        IngestService,
        { provide: IngestLimiter, useFactory: () => new IngestLimiter({ ratePerSecond: config.INGEST_RATE_PER_SECOND, burst: config.INGEST_BURST }) },
        {
          provide: TELEMETRY_SINK,
          inject: [PUBLISHER],
          useFactory: (publisher: RecordPublisher): TelemetrySink => ({ publish: (records) => publisher.publish(TelemetryBatchMessage, records) }),
        },
      ],
    };
  }
}
