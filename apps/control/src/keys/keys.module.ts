import { Module, type DynamicModule } from '@nestjs/common';
import { KeyEncryptionKey } from '@headroom/crypto';
import type { ControlConfig } from '../config';
import { CONTROL_KEKS, type KekSet } from './data-key-rotation';
import { KekService } from './kek.service';
import { KEY_JOB_INTERVAL_MS, KeyJob } from './key-job';
import { KeysController } from './keys.controller';
import { KEY_POLICY, KeysService, type KeyPolicy } from './keys.service';
import { sealedRecordRetentionMs } from './retirement';

/**
 * Data-key rotation on schedule, re-seal and retirement, KEK rotation by re-wrap (docs/crypto.md).
 * Import it after TenantsModule and PeopleModule: its boot-time re-wrap needs their tables.
 */
@Module({})
export class KeysModule {
  static forRoot(config: ControlConfig): DynamicModule {
    const keks: KekSet = {
      current: KeyEncryptionKey.fromBase64(config.HEADROOM_KEK, config.HEADROOM_KEK_ID),
      previous: config.HEADROOM_KEK_PREVIOUS && config.HEADROOM_KEK_PREVIOUS_ID ? [KeyEncryptionKey.fromBase64(config.HEADROOM_KEK_PREVIOUS, config.HEADROOM_KEK_PREVIOUS_ID)] : [],
    };
    const policy: KeyPolicy = { maxAgeMs: config.CONTROL_DATA_KEY_MAX_AGE, retireAfterMs: config.CONTROL_DATA_KEY_RETIRE_AFTER ?? sealedRecordRetentionMs() };
    return {
      module: KeysModule,
      controllers: [KeysController],
      providers: [
        { provide: CONTROL_KEKS, useValue: keks },
        { provide: KEY_POLICY, useValue: policy },
        { provide: KEY_JOB_INTERVAL_MS, useValue: config.CONTROL_KEY_JOB_INTERVAL },
        KeysService,
        KekService,
        KeyJob,
      ],
    };
  }
}
