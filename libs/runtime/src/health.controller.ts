import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import { METRICS, READINESS } from './tokens';
import type { Readiness } from './readiness';

@Controller()
export class HealthController {
  constructor(
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(METRICS) private readonly metrics: Registry,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() reply: FastifyReply) {
    const status = await this.readiness.status();
    await reply.status(status.ready ? 200 : 503).send(status);
  }

  /** The service's own metrics (not tenants' data: that is the exporters' job). */
  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metricsText(@Res() reply: FastifyReply) {
    await reply.header('Content-Type', this.metrics.contentType).send(await this.metrics.metrics());
  }
}
