import type { IngestBatch, PointLimits } from '@headroom/contracts';

/** One problem with a receiver's configuration, with its path (the Collector's confmap style). */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** What a receiver made of one request: the edge's batch shape, or a refusal with a reason. */
export type Decoded =
  | {
      ok: true;
      batch: IngestBatch;
      /**
       * Samples the receiver dropped itself rather than let one bad sample refuse the whole request
       * (Mimir's per-sample behaviour, for protocols whose clients do not retry a 400), per reason:
       * counted in headroom_discarded_samples_total. With it, an empty batch is answered as accepted
       * (nothing to publish) instead of the edge's 400.
       */
      discarded?: Record<string, number>;
      /**
       * What the protocol's answer reports as not accepted (OTLP's `partialSuccess`): the count in
       * the protocol's own unit (e.g. OTLP data points) and a message; handed to `respond()`.
       */
      partial?: { rejected: number; message: string };
    }
  | { ok: false; status: 400 | 403 | 413 | 415; error: string; message: string; issues?: { path: string; message: string; reason: string }[] };

/**
 * A way in over HTTP (OTLP/HTTP, Prometheus remote_write, …), in the OpenTelemetry Collector's
 * receiver shape: a type name, a default config, a `validate()` listing every problem with its
 * path, and `decode()`. A receiver only translates its protocol into the edge's batch; everything
 * after (authentication before the body, the tenant's limits, validation, idempotency, publishing)
 * is the one ingest edge every way in shares (`IngestService.submit`).
 */
export interface ReceiverFactory<C extends object = object> {
  /** Type name, e.g. `otlp_http`; also the `source` of the batches it publishes. */
  readonly type: string;
  /** URL path served (POST), e.g. `/v1/metrics`. Authenticated like `/v1/ingest/*`. */
  readonly path: string;
  /** Content types whose bodies it takes raw (a Buffer), e.g. `application/x-protobuf`. */
  readonly rawContentTypes: readonly string[];
  /**
   * Content-Encodings the edge undoes before the body is parsed (`gzip`); the body limit applies
   * to the decoded bytes too. Others reach `decode()` as sent (e.g. remote_write's snappy).
   */
  readonly contentEncodings?: readonly 'gzip'[];
  readonly defaultConfig: C;
  validate(config: unknown): ConfigIssue[];
  /**
   * Translates one request. `body` is a Buffer for the raw content types, the parsed JSON
   * otherwise; `headers` are the request's (lower-case names). Never throws on bad input:
   * answers `{ ok: false }` with the reason.
   */
  /**
   * The answer to an accepted request, in the protocol's own terms (default: 202 with the edge's
   * JSON body, `{ batchId, accepted }`).
   */
  respond?(
    accepted: { batchId: string; accepted: { points: number; events: number } },
    contentType: string,
    partial?: { rejected: number; message: string },
  ): { status: number; contentType?: string; body?: Buffer | string | object };
  decode(
    input: {
      body: unknown;
      contentType: string;
      headers: Record<string, string | string[] | undefined>;
      tenant: string;
      now: number;
      /** The tenant's effective point limits, for a receiver that drops what the edge would refuse. */
      limits: PointLimits;
    },
    config: C,
  ): Decoded | Promise<Decoded>;
}
