import { Body, Controller, Delete, Get, Header, HttpCode, Inject, Param, Post, Req } from '@nestjs/common';
import { parseBody } from '@headroom/runtime';
import { principalOf, Public, Requires } from '@headroom/tenancy';
import { MintTokenBodySchema, PersonTokensParamsSchema, TokenParamsSchema } from './people.dto';
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

  /** Revokes one token before its expiry: every service refuses it within moments (docs/security.md). */
  @Delete('v1/tokens/:jti')
  @Requires({ role: 'admin' })
  revoke(@Req() req: unknown, @Param('jti') jti: string) {
    return this.people.revoke(principalOf(req)!, parseBody(TokenParamsSchema, { jti }));
  }

  /** Revokes every live token of one person in the tenant (someone leaving the team). */
  @Delete('v1/tenants/:tenant/people/:sub/tokens')
  @Requires({ role: 'admin' })
  revokePerson(@Req() req: unknown, @Param('tenant') tenant: string, @Param('sub') sub: string) {
    return this.people.revoke(principalOf(req)!, parseBody(PersonTokensParamsSchema, { tenant, sub }));
  }

  @Post('v1/signing-keys/rotate')
  @HttpCode(201)
  @Requires({ role: 'platform-admin' })
  rotate() {
    return this.people.rotate();
  }
}
