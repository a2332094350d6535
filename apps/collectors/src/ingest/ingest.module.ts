import { Module, type DynamicModule } from '@nestjs/common';
import { TelemetryBatchMessage } from '@headroom/contracts';
import type { RecordPublisher } from '@headroom/kafka';
import { PUBLISHER } from '@headroom/tenancy';
import type { CollectorsConfig } from '../config';
import { LimitsModule } from '../limits/limits.module';
import { DiscardCounters } from './discards';
import { INGEST_EDGE_OPTIONS, IngestEdge } from './ingest-edge';
import { ReceiversController } from '../receivers/receivers.controller';
import { IngestController } from './ingest.controller';
import { DEPLOYMENT_LIMITS, IngestService, PUBLISH_TIMEOUT_MS, splitTelemetryBatch, TELEMETRY_SINK, type TelemetrySink } from './ingest.service';

@Module({})
export class IngestModule {
  static forRoot(config: CollectorsConfig): DynamicModule {
    const deploymentLimits = {
      ...(config.INGEST_RATE_PER_SECOND ? { ratePerSecond: config.INGEST_RATE_PER_SECOND } : {}),
      ...(config.INGEST_BURST ? { burst: config.INGEST_BURST } : {}),
    };
    return {
      module: IngestModule,
      imports: [LimitsModule.forRoot(config)],
      controllers: [IngestController, ReceiversController],
      providers: [
        IngestService,
        DiscardCounters,
        IngestEdge,
        { provide: INGEST_EDGE_OPTIONS, useValue: { maxBodyBytes: config.INGEST_MAX_BODY_BYTES } },
        { provide: DEPLOYMENT_LIMITS, useValue: deploymentLimits },
        { provide: PUBLISH_TIMEOUT_MS, useValue: config.INGEST_PUBLISH_TIMEOUT_MS },
        {
          provide: TELEMETRY_SINK,
          inject: [PUBLISHER],
          useFactory: (publisher: RecordPublisher): TelemetrySink => ({ publish: (records, signal) => publisher.publish(TelemetryBatchMessage, records, { split: splitTelemetryBatch, signal }) }),
        },
      ],
      exports: [IngestService],
    };
  }
}
