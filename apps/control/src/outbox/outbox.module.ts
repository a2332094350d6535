import { Global, Module } from '@nestjs/common';
import { ControlOutbox } from './control-outbox';

/** Control's transactional outbox, for every control module that changes what the topic carries. */
@Global()
@Module({ providers: [ControlOutbox], exports: [ControlOutbox] })
export class OutboxModule {}
