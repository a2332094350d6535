import type { ConfigIssue, Decoded, ReceiverFactory } from '../receiver';
import { decodeRemoteWrite, DEFAULT_REMOTE_WRITE_CONFIG, type RemoteWriteConfig } from './remote-write.decoder';

export const PROTOBUF_CONTENT_TYPE = 'application/x-protobuf';

/**
 * Prometheus remote_write 1.0 (snappy-compressed protobuf WriteRequest), at Mimir's path
 * `/api/v1/push`. The registry serves one path per receiver, so `/api/v1/write` (Prometheus's own
 * receiver path) is not served: point `remote_write.url` at `/api/v1/push` (docs/receivers.md).
 *
 * The tenant is the bearer credential's (`authorization: { credentials: hr_… }` in Prometheus's
 * config), authenticated by the edge before the body is read. `X-Scope-OrgID` (what Mimir and
 * Cortex use to name the tenant) is accepted only when it names that same tenant: 403 otherwise, so
 * a key can never write into another tenant, and a misconfigured Prometheus is told so.
 */
export const prometheusRemoteWriteReceiver: ReceiverFactory<RemoteWriteConfig> = {
  type: 'prometheus_remote_write',
  path: '/api/v1/push',
  rawContentTypes: [PROTOBUF_CONTENT_TYPE],
  defaultConfig: DEFAULT_REMOTE_WRITE_CONFIG,

  validate(config: unknown): ConfigIssue[] {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) return [{ path: '(root)', message: 'must be an object' }];
    const c = config as Record<string, unknown>;
    const issues: ConfigIssue[] = [];
    for (const k of Object.keys(c)) if (!(k in DEFAULT_REMOTE_WRITE_CONFIG)) issues.push({ path: k, message: `unknown setting (known: ${Object.keys(DEFAULT_REMOTE_WRITE_CONFIG).join(', ')})` });
    const int = (k: keyof RemoteWriteConfig, min: number, max: number) => {
      const v = c[k];
      if (v === undefined) return;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) issues.push({ path: k, message: `must be an integer between ${min} and ${max}` });
    };
    int('maxDecompressedBytes', 1024, 256 * 1024 * 1024);
    int('sampleAgeMarginMs', 0, 10 * 60_000);
    return issues;
  },

  async decode(input, config): Promise<Decoded> {
    const orgId = header(input.headers, 'x-scope-orgid');
    if (orgId !== undefined && orgId !== input.tenant) {
      return {
        ok: false,
        status: 403,
        error: 'tenant_mismatch',
        message: `X-Scope-OrgID names "${orgId}", but the API key belongs to tenant "${input.tenant}": the tenant is always the key's (drop the header, or use that tenant's key)`,
      };
    }
    const type = input.contentType.split(';')[0].trim().toLowerCase();
    if (type !== PROTOBUF_CONTENT_TYPE || !Buffer.isBuffer(input.body)) {
      return { ok: false, status: 415, error: 'unsupported_media_type', message: `remote_write bodies are ${PROTOBUF_CONTENT_TYPE} (snappy-compressed), got "${input.contentType}"` };
    }
    const encoding = header(input.headers, 'content-encoding')?.trim().toLowerCase();
    if (encoding !== undefined && encoding !== 'snappy') {
      return { ok: false, status: 415, error: 'unsupported_media_type', message: `remote_write bodies are snappy-compressed (Content-Encoding: snappy), got Content-Encoding "${encoding}"` };
    }
    const decoded = await decodeRemoteWrite(input.body, { limits: input.limits, now: input.now, tenant: input.tenant }, config);
    if (!decoded.ok) return decoded;
    return { ok: true, batch: { points: decoded.points, events: [] }, discarded: decoded.dropped };
  },

  /** remote_write 1.0: any 2xx is success; Prometheus, Mimir and Cortex answer 204 without a body. */
  respond() {
    return { status: 204 };
  },
};

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
