import { Controller, Get, Header, Headers, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { bearerToken, TenantDirectory } from '@headroom/tenancy';
import { PrometheusService } from './prometheus.service';

@Controller('v1/prometheus')
export class PrometheusController {
  constructor(
    @Inject(PrometheusService) private readonly prometheus: PrometheusService,
    @Inject(TenantDirectory) private readonly directory: TenantDirectory,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * The calling tenant's latest windows in the Prometheus text format, for a Prometheus scrape job
   * with a read-scoped API key as bearer token. The tenant comes only from the key: no query
   * parameter or header can select another tenant.
   */
  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metrics(@Headers('authorization') authorization: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    if (!(await this.readiness.isReady())) {
      await reply.status(503).send({ error: 'not_ready', message: 'tenants and windows are still loading; retry shortly' });
      return;
    }
    const principal = this.directory.authenticate(bearerToken(authorization), 'read');
    if (!principal) {
      await reply
        .status(401)
        .header('WWW-Authenticate', 'Bearer realm="headroom"')
        .send({ error: 'unauthorized', message: "a valid API key with the 'read' scope is required (Authorization: Bearer hr_...)" });
      return;
    }
    const exposition = await this.prometheus.exposition(principal.tenant);
    this.logger.debug({ tenant: principal.tenant, series: exposition.series }, 'prometheus scrape');
    await reply.header('Content-Type', exposition.contentType).send(exposition.text);
  }
}
