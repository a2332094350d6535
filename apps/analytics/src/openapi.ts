import { z } from 'zod';
import type { ApiOperation, ApiResponse, HttpMethod } from '@headroom/runtime';
import { PrometheusApiController } from './query/prometheus-api.controller';
import { QueryController } from './query/query.controller';
import { SubjectParamsSchema, SubjectsController } from './erasure/subjects.controller';

/*
 * The query APIs parse their parameters with query-params.ts (one/all, v1Time, promTime…), which
 * answer Prometheus's own error texts; these schemas describe what those functions accept. Moving
 * the handlers onto zod would change Prometheus-compatible answers, so the parsers stay the
 * authority and the fuzzing run checks the two agree.
 */
const v1Time = z.string().describe('Milliseconds since the epoch (2000–2100) or an ISO 8601 date-time');
const v1Duration = z.string().describe('A duration such as 10s, 1m, 1h30m (a multiple of 10s)');
const promTime = z.string().describe('Unix seconds (fractions allowed) or RFC 3339');
const promDuration = z.string().describe('Seconds (fractions allowed) or a duration such as 15s, 1m');
const labels = z.record(z.string());

const SeriesQuery = z.object({ match: z.string().describe('A selector: name{label="v"}'), start: v1Time.optional(), end: v1Time.optional() });
const RangeQuery = z.object({
  query: z.string().describe('A selector'),
  stat: z.array(z.string()).optional().describe('Repeatable or comma-separated: count, sum, min, max, mean, pNN'),
  start: v1Time.optional(),
  end: v1Time.optional(),
  step: v1Duration.optional(),
});

const SeriesAnswer = z.object({ series: z.array(z.object({ id: z.string(), name: z.string(), labels })) });
const RangeAnswer = z.object({
  resolution: z.string(),
  stepMs: z.number(),
  start: z.number(),
  end: z.number(),
  series: z.array(z.object({ id: z.string(), name: z.string(), labels, points: z.array(z.record(z.number().nullable())) })),
});

/** Prometheus's HTTP API envelope (https://prometheus.io/docs/prometheus/latest/querying/api/). */
const PromError = z.object({ status: z.literal('error'), errorType: z.enum(['bad_data', 'execution', 'unavailable', 'unauthorized', 'forbidden', 'internal']), error: z.string() });
const promSuccess = (data: z.ZodTypeAny): Record<number, ApiResponse> => ({
  200: { description: 'Prometheus’s success envelope', content: { 'application/json': z.object({ status: z.literal('success'), data }) } },
});
const sample = z.tuple([z.number(), z.string()]);
const PromQueryData = z.union([
  z.object({ resultType: z.literal('vector'), result: z.array(z.object({ metric: labels, value: sample })) }),
  z.object({ resultType: z.literal('matrix'), result: z.array(z.object({ metric: labels, values: z.array(sample) })) }),
]);

const InstantParams = z.object({ query: z.string(), time: promTime.optional() });
const RangeParams = z.object({ query: z.string(), start: promTime, end: promTime, step: promDuration });
const MatchParams = z.object({ 'match[]': z.array(z.string()).optional(), start: promTime.optional(), end: promTime.optional() });

/** GET with query parameters, POST with the same as a form (Prometheus clients send both). */
function promPair(getHandler: string, postHandler: string, summary: string, params: z.AnyZodObject, data: z.ZodTypeAny): ApiOperation[] {
  const common = { summary, responses: promSuccess(data), errorBody: PromError, guardErrorsInErrorBody: true, errors: [422, 503] };
  const op = (handler: string, method: HttpMethod): ApiOperation =>
    method === 'get'
      ? { ...common, handler: [PrometheusApiController, handler], request: { query: params } }
      : { ...common, handler: [PrometheusApiController, handler], request: { body: { content: { 'application/x-www-form-urlencoded': params } } } };
  return [op(getHandler, 'get'), op(postHandler, 'post')];
}

const SubjectRecordsAnswer = z.object({
  tenant: z.string(),
  subject: z.string().describe('The pseudonym the events are stored under'),
  events: z.array(z.object({ at: z.number(), type: z.string(), event: z.record(z.unknown()) })),
  truncated: z.boolean(),
});

export const ANALYTICS_OPERATIONS: readonly ApiOperation[] = [
  {
    handler: [SubjectsController, 'records'],
    summary: 'Right of access: the events analytics keeps about one user of the caller’s tenant',
    request: { params: SubjectParamsSchema },
    responses: { 200: { description: 'The subject’s events, oldest first', content: { 'application/json': SubjectRecordsAnswer } } },
    errors: [503],
  },
  {
    handler: [QueryController, 'series'],
    summary: 'Series matching a selector',
    request: { query: SeriesQuery },
    responses: { 200: { description: 'Series', content: { 'application/json': SeriesAnswer } } },
    errors: [422, 503],
  },
  {
    handler: [QueryController, 'range'],
    summary: 'Statistics of the matching series over a time range',
    request: { query: RangeQuery },
    responses: { 200: { description: 'One point per step and series', content: { 'application/json': RangeAnswer } } },
    errors: [422, 503],
  },
  ...promPair('instantGet', 'instantPost', 'Prometheus instant query', InstantParams, PromQueryData),
  ...promPair('rangeGet', 'rangePost', 'Prometheus range query', RangeParams, PromQueryData),
  ...promPair('seriesGet', 'seriesPost', 'Prometheus series', MatchParams, z.array(labels)),
  ...promPair('labelsGet', 'labelsPost', 'Prometheus label names', MatchParams, z.array(z.string())),
  {
    handler: [PrometheusApiController, 'labelValues'],
    summary: 'Prometheus label values',
    request: { params: z.object({ name: z.string() }), query: MatchParams },
    responses: promSuccess(z.array(z.string())),
    errorBody: PromError,
    guardErrorsInErrorBody: true,
    errors: [422, 503],
  },
  {
    handler: [PrometheusApiController, 'buildInfo'],
    summary: 'The Prometheus version whose API this follows (Grafana asks it)',
    responses: promSuccess(z.object({ version: z.string() }).passthrough()),
    errorBody: PromError,
    guardErrorsInErrorBody: true,
    errors: [503],
  },
];
