import { Body, Catch, Controller, Get, HttpCode, HttpException, Inject, Param, Post, Query, Req, Res, UseFilters, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { LOGGER, READINESS, type Logger, type Readiness } from '@headroom/runtime';
import { principalOf, Requires } from '@headroom/tenancy';
import { formatSampleValue } from './evaluator';
import { QueryError } from './query-error';
import { all, one, promDuration, promTime, type Params } from './query-params';
import { QueryService, type PromResult } from './query.service';

type ErrorType = 'bad_data' | 'execution' | 'unavailable' | 'unauthorized' | 'forbidden' | 'internal';

/**
 * The guard's refusals (401, 403, 503 while tenants load) in Prometheus's envelope, as on every
 * other answer of this API: Grafana and promtool read `errorType`/`error`, not the house shape.
 */
@Catch(HttpException)
export class PrometheusErrorFilter implements ExceptionFilter {
  catch(err: HttpException, host: ArgumentsHost): void {
    const status = err.getStatus();
    const body = err.getResponse() as { message?: unknown } | string;
    const message = typeof body === 'string' ? body : String(body.message ?? err.message);
    const errorType: ErrorType = status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : status === 503 ? 'unavailable' : status < 500 ? 'bad_data' : 'internal';
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    void reply.status(status).header('Cache-Control', 'no-store').send({ status: 'error', errorType, error: message });
  }
}

/** Go's time.Time zero and max as Prometheus uses them when `start`/`end` are absent (bounded to what Headroom stores). */
const EARLIEST = 0;

/**
 * A Prometheus-compatible HTTP API over one tenant's windows, as Mimir serves tenants under
 * `/prometheus/api/v1/`: point Grafana's Prometheus data source at `<analytics>/prometheus` with
 * the tenant's read API key. Answers use Prometheus's JSON exactly (sample values as strings,
 * timestamps in seconds, `errorType`/`error` on failure). GET and POST (form-encoded), as the
 * Prometheus clients send both.
 */
@Controller('prometheus/api/v1')
@Requires({ role: 'viewer' })
@UseFilters(PrometheusErrorFilter)
export class PrometheusApiController {
  constructor(
    @Inject(QueryService) private readonly query: QueryService,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  @Get('query')
  instantGet(@Req() req: unknown, @Query() q: Params, @Res() reply: FastifyReply) {
    return this.instant(req, q, reply);
  }
  @Post('query')
  @HttpCode(200)
  instantPost(@Req() req: unknown, @Query() q: Params, @Body() body: Params | undefined, @Res() reply: FastifyReply) {
    return this.instant(req, { ...q, ...body }, reply);
  }

  @Get('query_range')
  rangeGet(@Req() req: unknown, @Query() q: Params, @Res() reply: FastifyReply) {
    return this.range(req, q, reply);
  }
  @Post('query_range')
  @HttpCode(200)
  rangePost(@Req() req: unknown, @Query() q: Params, @Body() body: Params | undefined, @Res() reply: FastifyReply) {
    return this.range(req, { ...q, ...body }, reply);
  }

  @Get('series')
  seriesGet(@Req() req: unknown, @Query() q: Params, @Res() reply: FastifyReply) {
    return this.series(req, q, reply);
  }
  @Post('series')
  @HttpCode(200)
  seriesPost(@Req() req: unknown, @Query() q: Params, @Body() body: Params | undefined, @Res() reply: FastifyReply) {
    return this.series(req, { ...q, ...body }, reply);
  }

  @Get('labels')
  labelsGet(@Req() req: unknown, @Query() q: Params, @Res() reply: FastifyReply) {
    return this.labels(req, q, reply);
  }
  @Post('labels')
  @HttpCode(200)
  labelsPost(@Req() req: unknown, @Query() q: Params, @Body() body: Params | undefined, @Res() reply: FastifyReply) {
    return this.labels(req, { ...q, ...body }, reply);
  }

  @Get('label/:name/values')
  labelValues(@Req() req: unknown, @Param('name') name: string, @Query() q: Params, @Res() reply: FastifyReply) {
    return this.respond(req, reply, async (tenant) => {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name)) throw new QueryError(400, 'name', `invalid label name: ${JSON.stringify(name)}`);
      const { start, end } = this.bounds(q);
      return this.query.promLabels(tenant, all(q, 'match[]'), start, end, name);
    });
  }

  /** Grafana asks this to pick its query features; Headroom answers as the Prometheus version whose API it follows. */
  @Get('status/buildinfo')
  buildInfo(@Req() req: unknown, @Res() reply: FastifyReply) {
    return this.respond(req, reply, async () => ({ version: '2.42.0', revision: 'headroom', branch: 'headroom', buildUser: 'headroom', buildDate: '', goVersion: '' }));
  }

  private instant(req: unknown, p: Params, reply: FastifyReply) {
    return this.respond(req, reply, async (tenant) => {
      const query = one(p, 'query');
      if (!query) throw new QueryError(400, 'query', 'missing query');
      const time = promTime('time', one(p, 'time'), Date.now());
      return wire(await this.query.evaluate(tenant, query, [time], 0));
    });
  }

  private range(req: unknown, p: Params, reply: FastifyReply) {
    return this.respond(req, reply, async (tenant) => {
      const query = one(p, 'query');
      if (!query) throw new QueryError(400, 'query', 'missing query');
      const start = promTime('start', one(p, 'start'), NaN);
      const end = promTime('end', one(p, 'end'), NaN);
      if (Number.isNaN(start)) throw new QueryError(400, 'start', 'missing start');
      if (Number.isNaN(end)) throw new QueryError(400, 'end', 'missing end');
      if (end < start) throw new QueryError(400, 'end', 'end timestamp must not be before start time');
      const step = promDuration('step', one(p, 'step'));
      // The service checks the configured limit; this only keeps a silly step from building a huge array first.
      const count = Math.floor((end - start) / step) + 1;
      const times = Array.from({ length: Math.min(count, 10_000_000) }, (_, i) => start + i * step);
      return wire(await this.query.evaluate(tenant, query, times, step));
    });
  }

  private series(req: unknown, p: Params, reply: FastifyReply) {
    return this.respond(req, reply, async (tenant) => {
      const { start, end } = this.bounds(p);
      return this.query.promSeries(tenant, all(p, 'match[]'), start, end);
    });
  }

  private labels(req: unknown, p: Params, reply: FastifyReply) {
    return this.respond(req, reply, async (tenant) => {
      const { start, end } = this.bounds(p);
      return this.query.promLabels(tenant, all(p, 'match[]'), start, end);
    });
  }

  private bounds(p: Params): { start: number; end: number } {
    const end = promTime('end', one(p, 'end'), Date.now());
    return { start: promTime('start', one(p, 'start'), EARLIEST), end };
  }

  /** Prometheus's envelope: `{status:"success",data}` or `{status:"error",errorType,error}`. */
  private async respond(req: unknown, reply: FastifyReply, work: (tenant: string) => Promise<unknown>): Promise<void> {
    const fail = (status: number, errorType: ErrorType, error: string) => reply.status(status).header('Cache-Control', 'no-store').send({ status: 'error', errorType, error });
    if (!(await this.readiness.isReady())) return void (await fail(503, 'unavailable', 'tenants are still loading; retry shortly'));
    // The guard authenticated the request (Bearer, or Basic auth with the key as password); a
    // platform credential names no tenant, and this API serves one tenant's data.
    const tenant = principalOf(req)?.tenant;
    if (!tenant) return void (await fail(403, 'unauthorized', "this API serves the credential's own tenant; use a tenant's API key or token"));
    try {
      const data = await work(tenant);
      await reply.header('Cache-Control', 'no-store').send({ status: 'success', data });
    } catch (e) {
      if (e instanceof QueryError) {
        const reason = e.field === 'query' || e.field === 'step' ? e.reason : `invalid parameter ${JSON.stringify(e.field)}: ${e.reason}`;
        return void (await fail(e.status, e.isLimit ? 'execution' : 'bad_data', reason));
      }
      this.logger.error({ err: e instanceof Error ? e.message : String(e), tenant }, 'prometheus api query failed');
      await fail(500, 'internal', 'internal error');
    }
  }
}

/** Sample values as strings and timestamps in seconds, as Prometheus writes them. */
function wire(r: PromResult) {
  if (r.resultType === 'vector')
    return { resultType: 'vector', result: r.result.map((s) => ({ metric: s.metric, value: [s.value[0] / 1000, formatSampleValue(s.value[1])] })) };
  return { resultType: 'matrix', result: r.result.map((s) => ({ metric: s.metric, values: s.values.map(([t, v]) => [t / 1000, formatSampleValue(v)]) })) };
}
