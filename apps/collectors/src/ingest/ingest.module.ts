import { Module } from '@nestjs/common';
import { IngestController } from './ingest.controller';
import { IngestService, TELEMETRY_SINK } from './ingest.service';
import { PUBLISHER } from '@headroom/tenancy';
import type { RecordPublisher } from '@headroom/kafka';
import { TelemetryBatchMessage } from '@headroom/contracts';

@Module({
  controllers: [IngestController],
  providers: [
    IngestService,
    {
      provide: TELEMETRY_SINK,
      inject: [PUBLISHER],
      useFactory: (publisher: RecordPublisher) => ({
        publish: (records: Parameters<typeof publisher.publish<typeof TelemetryBatchMessage>>[1]) => publisher.publish(TelemetryBatchMessage, records),
      }),
    },
  ],
})
export class IngestModule {}
