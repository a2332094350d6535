import { Inject, Injectable, Module, type DynamicModule, type OnApplicationBootstrap } from '@nestjs/common';
import { LOGGER, type Logger } from '@headroom/runtime';
import { KeyEncryptionKey } from '@headroom/crypto';
import type { ControlConfig } from '../config';
import { ADMIN_TOKEN, AdminGuard } from './admin.guard';
import { TenantsController } from './tenants.controller';
import { CONTROL_KEK, TenantsService } from './tenants.service';
import { ControlSchemaMigration } from './control-schema';

/** At boot, control re-asserts its state on the control topic (see TenantsService.republishAll). */
@Injectable()
class ControlTopicRepair implements OnApplicationBootstrap {
  constructor(
    @Inject(TenantsService) private readonly tenants: TenantsService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const count = await this.tenants.republishAll();
    this.logger.info({ records: count }, 'control state re-asserted on the control topic');
  }
}

@Module({})
export class TenantsModule {
  static forRoot(config: ControlConfig): DynamicModule {
    return {
      module: TenantsModule,
      controllers: [TenantsController],
      providers: [
        ControlSchemaMigration,
        TenantsService,
        ControlTopicRepair,
        AdminGuard,
        { provide: ADMIN_TOKEN, useValue: config.CONTROL_ADMIN_TOKEN },
        { provide: CONTROL_KEK, useFactory: () => KeyEncryptionKey.fromBase64(config.HEADROOM_KEK, config.HEADROOM_KEK_ID) },
      ],
    };
  }
}
