import { z } from 'zod';
import { MAX_EVENTS_PER_BATCH, MAX_POINTS_PER_BATCH, MetricPointSchema, PlatformEventSchema } from '@headroom/contracts';
import { documented, type ApiOperation, type BodySchema } from '@headroom/runtime';
import { IngestController } from './ingest/ingest.controller';
import { ReceiversController } from './receivers/receivers.controller';
import { otlpHttpReceiver } from './receivers/otlp-http/otlp-http.receiver';
import { prometheusRemoteWriteReceiver } from './receivers/prometheus-remote-write/prometheus-remote-write.receiver';

const binary: BodySchema = { type: 'string', format: 'binary' };

/**
 * The edge validates batches with validateIngestBatch (hand-written, for speed: IngestBatchSchema
 * wraps it), which checks each point as MetricPointSchema does and the events with
 * PlatformEventSchema. A point's shape is invisible to zod, so it is described here; the events
 * are generated from their schema.
 */
const MetricPointDoc = documented(MetricPointSchema, {
  type: 'object',
  required: ['name', 'value', 'timestamp'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: '^[a-zA-Z_:][a-zA-Z0-9_:]*$', description: 'Prometheus metric name' },
    labels: { type: 'object', additionalProperties: { type: 'string' }, description: 'Label names as Prometheus’s; `__`-prefixed names are reserved' },
    value: { type: 'number' },
    timestamp: { type: 'integer', description: 'Milliseconds since the epoch, within the tenant’s age and future limits' },
    unit: { type: 'string' },
  },
});

const IngestBatchDoc = z
  .object({ points: z.array(MetricPointDoc).max(MAX_POINTS_PER_BATCH).optional(), events: z.array(PlatformEventSchema).max(MAX_EVENTS_PER_BATCH).optional() })
  .strict()
  .describe('Accepted or refused whole; at least one point or event. The tenant is the API key’s: a `tenant` field is refused.');

const IngestHeaders = z.object({
  'idempotency-key': z.string().regex(/^[\x21-\x7e]{1,255}$/).optional().describe('A retry with the same key gets the first answer instead of a second publish'),
  traceparent: z.string().optional().describe('W3C trace context, carried to Kafka when well formed'),
});

const AcceptedSchema = z.object({ batchId: z.string(), accepted: z.object({ points: z.number().int(), events: z.number().int() }) });
const accepted = { 202: { description: 'Published to the telemetry topic', content: { 'application/json': AcceptedSchema } } };

/** The collectors' ways in; each receiver path comes from the receiver registry the controller dispatches on. */
export const COLLECTORS_OPERATIONS: readonly ApiOperation[] = [
  {
    handler: [IngestController, 'metrics'],
    summary: 'Ingest a batch of metric points and platform events',
    request: {
      headers: IngestHeaders,
      body: {
        content: {
          'application/json': IngestBatchDoc,
        },
      },
    },
    responses: accepted,
    errors: [409, 429, 503],
  },
  {
    handler: [IngestController, 'events'],
    summary: 'Ingest platform events only',
    request: { headers: IngestHeaders, body: { content: { 'application/json': IngestBatchDoc.omit({ points: true }) } } },
    responses: accepted,
    errors: [409, 429, 503],
  },
  {
    handler: [ReceiversController, 'receive'],
    path: prometheusRemoteWriteReceiver.path,
    summary: 'Prometheus remote_write 1.0 (snappy-compressed protobuf WriteRequest)',
    request: {
      headers: z.object({
        'content-encoding': z.literal('snappy').optional(),
        'x-scope-orgid': z.string().optional().describe('Refused (403) unless it names the API key’s tenant'),
      }),
      body: { content: Object.fromEntries(prometheusRemoteWriteReceiver.rawContentTypes.map((t) => [t, binary])) },
    },
    responses: { 204: { description: 'Accepted (samples the tenant’s limits refuse are dropped and counted, as Mimir does)' } },
    errors: [409, 429, 503],
  },
  {
    handler: [ReceiversController, 'receive'],
    path: otlpHttpReceiver.path,
    summary: 'OTLP/HTTP metrics (ExportMetricsServiceRequest as protobuf or JSON, optionally gzip)',
    request: {
      headers: z.object({ 'content-encoding': z.literal('gzip').optional() }),
      body: { content: { ...Object.fromEntries(otlpHttpReceiver.rawContentTypes.map((t) => [t, binary])), 'application/json': { type: 'object' } } },
    },
    responses: {
      200: {
        description: 'ExportMetricsServiceResponse, in the request’s encoding',
        content: {
          ...Object.fromEntries(otlpHttpReceiver.rawContentTypes.map((t) => [t, binary])),
          'application/json': z.object({ partialSuccess: z.object({ rejectedDataPoints: z.string(), errorMessage: z.string() }).optional() }),
        },
      },
    },
    errors: [409, 429, 503],
  },
];

