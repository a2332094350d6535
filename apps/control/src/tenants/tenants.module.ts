import { Module, type DynamicModule } from '@nestjs/common';
import { KeyEncryptionKey } from '@headroom/crypto';
import type { ControlConfig } from '../config';
import { ADMIN_TOKEN, AdminGuard } from './admin.guard';
import { TenantsController } from './tenants.controller';
import { CONTROL_KEK, TenantsService } from './tenants.service';
import { ControlSchemaMigration } from './control-schema';

@Module({})
export class TenantsModule {
  static forRoot(config: ControlConfig): DynamicModule {
    return {
      module: TenantsModule,
      controllers: [TenantsController],
      providers: [
        ControlSchemaMigration,
        TenantsService,
        AdminGuard,
        { provide: ADMIN_TOKEN, useValue: config.CONTROL_ADMIN_TOKEN },
        { provide: CONTROL_KEK, useFactory: () => KeyEncryptionKey.fromBase64(config.HEADROOM_KEK, config.HEADROOM_KEK_ID) },
      ],
    };
  }
}
