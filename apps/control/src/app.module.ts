import { kafkaConnectionFromConfig } from '@headroom/config';
import { Module, type DynamicModule } from '@nestjs/common';
import { RuntimeModule, type Logger } from '@headroom/runtime';
import { CONTROL_OPERATIONS } from './openapi';
import { TenancyModule } from '@headroom/tenancy';
import type { ControlConfig } from './config';
import { DatabaseModule } from '@headroom/database';
import { TenantsModule } from './tenants/tenants.module';
import { OutboxModule } from './outbox/outbox.module';
import { AuditModule } from './audit/audit.module';
import { PeopleModule } from './people/people.module';
import { ErasureModule } from './erasure/erasure.module';
import { KeysModule } from './keys/keys.module';

@Module({})
export class AppModule {
  static forRoot(config: ControlConfig, logger: Logger): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RuntimeModule.forRoot({ service: 'control', logger, metricsToken: config.HEADROOM_METRICS_TOKEN, openapi: CONTROL_OPERATIONS }),
        TenancyModule.forRoot({ service: 'control', kafka: kafkaConnectionFromConfig(config, 'control'), kekBase64: config.HEADROOM_KEK, kekId: config.HEADROOM_KEK_ID, kekPreviousBase64: config.HEADROOM_KEK_PREVIOUS, kekPreviousId: config.HEADROOM_KEK_PREVIOUS_ID, controlPublicKeys: config.HEADROOM_CONTROL_PUBLIC_KEY, controlSigningKey: config.CONTROL_SIGNING_KEY, platformAdminToken: config.CONTROL_ADMIN_TOKEN }),
        DatabaseModule.forRoot({ url: config.DATABASE_URL }),
        OutboxModule,
        TenantsModule.forRoot(config),
        AuditModule.forRoot(config),
        PeopleModule.forRoot(config),
        ErasureModule.forRoot(config),
        KeysModule.forRoot(config),
      ],
    };
  }
}
