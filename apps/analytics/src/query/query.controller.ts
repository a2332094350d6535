import { Controller, Get, Header, HttpException, Inject, Query, Req } from '@nestjs/common';
import { READINESS, type Readiness } from '@headroom/runtime';
import { Requires, tenantOf } from '@headroom/tenancy';
import { QueryError } from './query-error';
import { all, one, v1Duration, v1Time, type Params } from './query-params';
import { DEFAULT_STATS, parseStat, QueryService, type RangeAnswer } from './query.service';

const HOUR = 3600_000;

/**
 * Headroom's own query API over the stored windows (docs/query-api.md). The tenant is the
 * credential's (a `read` API key or a person's token, viewer and up); no parameter can name another.
 */
@Controller('v1/query')
@Requires({ role: 'viewer' })
export class QueryController {
  constructor(
    @Inject(QueryService) private readonly query: QueryService,
    @Inject(READINESS) private readonly readiness: Readiness,
  ) {}

  /** `match` (a selector: `name{label="v"}`, `{__name__=~"api_.*"}`); `start`, `end` (default: the last 24 h). */
  @Get('series')
  @Header('Cache-Control', 'no-store')
  async series(@Req() req: unknown, @Query() params: Params) {
    const tenant = await this.caller(req);
    return this.answer(async () => {
      const match = one(params, 'match');
      if (!match) throw new QueryError(400, 'match', 'a selector is required, e.g. match=api_latency_ms{route="/play"}');
      const end = v1Time('end', one(params, 'end'), Date.now());
      const start = v1Time('start', one(params, 'start'), end - 24 * HOUR);
      const series = await this.query.series(tenant, match, start, end);
      return { series: series.map((s) => ({ id: s.id, name: s.name, labels: s.labels })) };
    });
  }

  /**
   * `query` (a selector), `stat` (repeatable or comma-separated; default count, sum, min, max,
   * mean, p50, p95, p99), `start`, `end` (default: the last hour), `step` (10s, 1m, 1h or any
   * multiple of 10s; default 1m).
   */
  @Get('range')
  @Header('Cache-Control', 'no-store')
  async range(@Req() req: unknown, @Query() params: Params): Promise<RangeAnswer> {
    const tenant = await this.caller(req);
    return this.answer(async () => {
      const query = one(params, 'query');
      if (!query) throw new QueryError(400, 'query', 'a selector is required, e.g. query=api_latency_ms{route="/play"}');
      const names = all(params, 'stat').flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
      const stats = (names.length ? names : DEFAULT_STATS).map(parseStat);
      const end = v1Time('end', one(params, 'end'), Date.now());
      const start = v1Time('start', one(params, 'start'), end - HOUR);
      const stepMs = v1Duration('step', one(params, 'step'), 60_000);
      return this.query.range(tenant, { query, stats, start, end, stepMs });
    });
  }

  private async caller(req: unknown): Promise<string> {
    if (!(await this.readiness.isReady())) throw new HttpException({ error: 'not_ready', message: 'tenants are still loading; retry shortly' }, 503);
    return tenantOf(req).tenant;
  }

  /** A refused query as the house error shape: the parameter at fault in `issues[].path`, the reason in `message`. */
  private async answer<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (e) {
      if (!(e instanceof QueryError)) throw e;
      throw new HttpException(
        { error: e.isLimit ? 'limit_exceeded' : 'invalid_request', message: e.message, issues: [{ path: e.field, message: e.reason }] },
        e.status,
      );
    }
  }
}
