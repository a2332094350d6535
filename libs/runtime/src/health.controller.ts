import { createHash, timingSafeEqual } from 'node:crypto';
import { Controller, Get, Header, Headers, Inject, Res, SetMetadata } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { Registry } from 'prom-client';
import { METRICS, METRICS_TOKEN, READINESS } from './tokens';
import type { Readiness } from './readiness';

/**
 * `@Public()` of @headroom/tenancy, which this library cannot import: probes carry no tenant
 * credential, and /metrics keeps its own bearer token (below) instead.
 */
const Public = () => SetMetadata('headroom:requires', { public: true });

@Controller()
export class HealthController {
  constructor(
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(METRICS) private readonly metrics: Registry,
    @Inject(METRICS_TOKEN) private readonly metricsToken: string | undefined,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  @Public()
  healthz() {
    return { status: 'ok' };
  }

  @Get('readyz')
  @Public()
  async readyz(@Res() reply: FastifyReply) {
    const status = await this.readiness.status();
    await reply.status(status.ready ? 200 : 503).send(status);
  }

  /**
   * The service's own metrics (not tenants' data: that is the exporters' job). They name tenants and
   * their volumes (per-tenant limits and discards, as Mimir's do), so only the scraper's bearer
   * token (HEADROOM_METRICS_TOKEN) reads them; without one configured, nobody does.
   */
  @Get('metrics')
  @Public()
  @Header('Cache-Control', 'no-store')
  async metricsText(@Headers('authorization') authorization: string | undefined, @Res() reply: FastifyReply) {
    if (!this.metricsToken) {
      await reply.status(401).send({ error: 'unauthorized', message: 'metrics are disabled: set HEADROOM_METRICS_TOKEN and scrape with it as a bearer token' });
      return;
    }
    const given = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? '')?.[1];
    if (!given || !timingSafeEqual(digest(given), digest(this.metricsToken))) {
      await reply.status(401).header('WWW-Authenticate', 'Bearer realm="metrics"').send({ error: 'unauthorized', message: 'the metrics bearer token is required' });
      return;
    }
    await reply.header('Content-Type', this.metrics.contentType).send(await this.metrics.metrics());
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest();
