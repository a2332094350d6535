import { Module, type DynamicModule } from '@nestjs/common';
import { SINKS_OPTIONS, SinkRunner, type SinksOptions } from './sink-runner';

/** Push exports (remote_write, InfluxDB, …): one consumer group per enabled sink. Nothing runs when none is enabled. */
@Module({})
export class SinksModule {
  static forRoot(options: SinksOptions): DynamicModule {
    return {
      module: SinksModule,
      providers: [{ provide: SINKS_OPTIONS, useValue: options }, SinkRunner],
    };
  }
}
