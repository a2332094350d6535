import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { Controller, Get, Headers, Inject, Req, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { principalOf, Requires } from '@headroom/tenancy';
import { negotiateFormat } from './exposition';
import { PrometheusService } from './prometheus.service';

const gzipAsync = promisify(gzip);
/** Smaller pages go out as they are: compressing them costs more than it saves. */
const GZIP_FROM_BYTES = 1024;

const acceptsGzip = (header: string | undefined) =>
  (header ?? '').split(',').some((part) => {
    const [coding, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    return coding === 'gzip' && !params.some((p) => /^q=0(\.0*)?$/.test(p));
  });

@Controller('v1/prometheus')
export class PrometheusController {
  constructor(
    @Inject(PrometheusService) private readonly prometheus: PrometheusService,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * The calling tenant's windows for a Prometheus scrape job with a read-scoped API key as bearer
   * token, in OpenMetrics or the text format by `Accept` (gzip by `Accept-Encoding`). The tenant comes
   * only from the credential: no query parameter or header can select another tenant.
   */
  @Get('metrics')
  @Requires({ role: 'viewer' })
  async metrics(
    @Req() req: unknown,
    @Headers('accept') accept: string | undefined,
    @Headers('accept-encoding') acceptEncoding: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    void reply.header('Cache-Control', 'no-store').header('Vary', 'Accept, Accept-Encoding');
    if (!(await this.readiness.isReady())) {
      await reply.status(503).send({ error: 'not_ready', message: 'tenants are still loading or the database is unreachable; retry shortly' });
      return;
    }
    const principal = principalOf(req);
    if (!principal?.tenant) {
      await reply.status(403).send({ error: 'forbidden', message: "this endpoint serves the credential's own tenant; use a tenant's API key or token" });
      return;
    }
    const tenant = principal.tenant;
    const { format, contentType } = negotiateFormat(accept);
    let exposition;
    try {
      exposition = await this.prometheus.exposition(tenant, format);
    } catch (err) {
      // A failed scrape (up == 0) rather than an empty page, which would read as "no series".
      this.logger.warn({ tenant, err: String(err) }, 'prometheus scrape failed: database unreachable');
      await reply.status(503).send({ error: 'unavailable', message: 'the windows could not be read; retry shortly' });
      return;
    }
    this.logger.debug({ tenant, format, series: exposition.series, samples: exposition.samples }, 'prometheus scrape');
    void reply.header('Content-Type', contentType);
    if (Buffer.byteLength(exposition.text) >= GZIP_FROM_BYTES && acceptsGzip(acceptEncoding)) {
      await reply.header('Content-Encoding', 'gzip').send(await gzipAsync(exposition.text));
      return;
    }
    await reply.send(exposition.text);
  }
}
