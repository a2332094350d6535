import { Controller, Get, Header, Inject, SetMetadata } from '@nestjs/common';
import type { OpenAPIObject } from 'openapi3-ts/oas31';
import { REQUIRES_METADATA } from './api-operation';

export const OPENAPI_DOCUMENT = Symbol('OPENAPI_DOCUMENT');

/** The service's API description, for anyone: it holds the shape of requests, never data. */
@Controller()
export class OpenApiController {
  constructor(@Inject(OPENAPI_DOCUMENT) private readonly document: OpenAPIObject) {}

  // The key @Public() of @headroom/tenancy writes; set directly because runtime sits below tenancy.
  @SetMetadata(REQUIRES_METADATA, { public: true })
  @Get('openapi.json')
  @Header('Cache-Control', 'no-cache')
  openapi(): OpenAPIObject {
    return this.document;
  }
}
