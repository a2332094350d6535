import { Body, Controller, Get, Header, HttpCode, Inject, Post, Req } from '@nestjs/common';
import { parseBody } from '@headroom/runtime';
import { principalOf, Public, Requires } from '@headroom/tenancy';
import { MintTokenBodySchema } from './people.dto';
import { PeopleService } from './people.service';

@Controller()
export class PeopleController {
  constructor(@Inject(PeopleService) private readonly people: PeopleService) {}

  /** The public keys of people's tokens (RFC 7517), for tools outside Headroom; services read them from the control topic. */
  @Get('.well-known/jwks.json')
  @Public()
  @Header('Cache-Control', 'public, max-age=300')
  async jwks() {
    return { keys: (await this.people.jwks()).keys };
  }

  /** A token for a person: `{ sub, role, tenant?, ttlSeconds? }` (at most 12 h). */
  @Post('v1/tokens')
  @HttpCode(201)
  @Requires({ role: 'admin' })
  mint(@Req() req: unknown, @Body() body: unknown) {
    return this.people.mint(principalOf(req)!, parseBody(MintTokenBodySchema, body));
  }

  @Post('v1/signing-keys/rotate')
  @HttpCode(201)
  @Requires({ role: 'platform-admin' })
  rotate() {
    return this.people.rotate();
  }
}
