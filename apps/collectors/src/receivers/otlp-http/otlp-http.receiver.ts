import type { ConfigIssue, Decoded, ReceiverFactory } from '../receiver';
import { DEFAULT_OTLP_HTTP_CONFIG, mapExportMetricsRequest, MAX_RESOURCE_LABELS, OtlpShapeError, rejectionMessage, type OtlpHttpConfig } from './mapping';
import { decodeExportMetricsRequest, encodeExportMetricsResponse } from './otlp-proto';

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

const mediaType = (contentType: string) => contentType.split(';')[0].trim().toLowerCase();

/**
 * OTLP/HTTP metrics (`POST /v1/metrics`, https://opentelemetry.io/docs/specs/otlp/#otlphttp):
 * binary protobuf or OTLP/JSON, optionally gzipped (the edge undoes `Content-Encoding: gzip` before
 * the body limit is checked). Answers 200 with an ExportMetricsServiceResponse in the request's
 * encoding — with `partialSuccess` when data points were dropped — 400 for a body that is not an
 * ExportMetricsServiceRequest, 415 for other content types; the edge's 429/503 pass through with
 * Retry-After (OTLP's retryable codes). Mapping: ./mapping.ts and docs/receivers.md.
 */
export const otlpHttpReceiver: ReceiverFactory<OtlpHttpConfig> = {
  type: 'otlp_http',
  path: '/v1/metrics',
  rawContentTypes: [PROTOBUF],
  contentEncodings: ['gzip'],
  defaultConfig: DEFAULT_OTLP_HTTP_CONFIG,

  validate(config: unknown): ConfigIssue[] {
    const issues: ConfigIssue[] = [];
    if (typeof config !== 'object' || config === null) return [{ path: '', message: 'must be an object' }];
    const c = config as Partial<Record<keyof OtlpHttpConfig, unknown>>;
    if (!Array.isArray(c.resourceAttributes) || c.resourceAttributes.some((k) => typeof k !== 'string' || k === '')) {
      issues.push({ path: 'resourceAttributes', message: 'must be a list of attribute keys' });
    } else if (c.resourceAttributes.length > MAX_RESOURCE_LABELS) {
      issues.push({ path: 'resourceAttributes', message: `at most ${MAX_RESOURCE_LABELS} resource attributes become labels (every label counts against the tenant's maxLabelNamesPerSeries)` });
    }
    if (typeof c.scopeNameLabel !== 'boolean') issues.push({ path: 'scopeNameLabel', message: 'must be true or false' });
    return issues;
  },

  decode({ body, contentType, tenant, now, limits }, config): Decoded {
    const type = mediaType(contentType);
    let request: unknown;
    if (type === PROTOBUF) {
      if (!Buffer.isBuffer(body)) return undecodable('the protobuf body could not be read');
      try {
        request = decodeExportMetricsRequest(body);
      } catch (err) {
        return undecodable(`not an ExportMetricsServiceRequest: ${err instanceof Error ? err.message : String(err)}`);
      }
    } else if (type === JSON_TYPE) {
      request = body;
      if (typeof request !== 'object' || request === null || Array.isArray(request)) return undecodable('an OTLP/JSON ExportMetricsServiceRequest is an object');
    } else {
      return { ok: false, status: 415, error: 'unsupported_media_type', message: `OTLP/HTTP takes ${PROTOBUF} or ${JSON_TYPE}, got ${contentType || 'none'}` };
    }
    try {
      const mapped = mapExportMetricsRequest(request, { limits, now, tenant }, config);
      return {
        ok: true,
        batch: mapped.batch,
        discarded: mapped.discarded,
        ...(mapped.rejectedDataPoints > 0 ? { partial: { rejected: mapped.rejectedDataPoints, message: rejectionMessage(mapped) } } : {}),
      };
    } catch (err) {
      if (err instanceof OtlpShapeError) return undecodable(`not an ExportMetricsServiceRequest: ${err.message}`);
      throw err;
    }
  },

  respond(_accepted, contentType, partial) {
    const success = partial ? { rejectedDataPoints: partial.rejected, errorMessage: partial.message } : undefined;
    if (mediaType(contentType) === PROTOBUF) return { status: 200, contentType: PROTOBUF, body: encodeExportMetricsResponse(success) };
    // OTLP/JSON: int64 as a decimal string.
    return { status: 200, contentType: JSON_TYPE, body: success ? { partialSuccess: { rejectedDataPoints: String(success.rejectedDataPoints), errorMessage: success.errorMessage } } : {} };
  },
};

function undecodable(message: string): Decoded {
  return { ok: false, status: 400, error: 'invalid_request', message };
}
