import { Module, type DynamicModule } from '@nestjs/common';
import type { ControlConfig } from '../config';
import { ADMIN_TOKEN, AdminGuard } from '../tenants/admin.guard';
import { AUDIT_ANCHOR_INTERVAL_MS, AuditAnchor } from './audit-anchor';
import { AuditConsumer } from './audit.consumer';
import { AuditController } from './audit.controller';
import { AuditRepository } from './audit.repository';

@Module({})
export class AuditModule {
  static forRoot(config: ControlConfig): DynamicModule {
    return {
      module: AuditModule,
      controllers: [AuditController],
      providers: [
        AuditRepository,
        AuditConsumer,
        AuditAnchor,
        { provide: AUDIT_ANCHOR_INTERVAL_MS, useValue: 5 * 60_000 },
        AdminGuard,
        { provide: ADMIN_TOKEN, useValue: config.CONTROL_ADMIN_TOKEN },
      ],
    };
  }
}
