import { Module, type DynamicModule } from '@nestjs/common';
import { KeyEncryptionKey } from '@headroom/crypto';
import type { ControlConfig } from '../config';
import { OutboxModule } from '../outbox/outbox.module';
import { PeopleController } from './people.controller';
import { PEOPLE_KEK, PeopleService } from './people.service';

/** People's tokens: signing keys, `POST /v1/tokens`, the JWKS (see PeopleService). */
@Module({})
export class PeopleModule {
  static forRoot(config: ControlConfig): DynamicModule {
    return {
      module: PeopleModule,
      imports: [OutboxModule],
      controllers: [PeopleController],
      providers: [PeopleService, { provide: PEOPLE_KEK, useFactory: () => KeyEncryptionKey.fromBase64(config.HEADROOM_KEK, config.HEADROOM_KEK_ID) }],
    };
  }
}
