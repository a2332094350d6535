import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';
import type { Readable } from 'node:stream';
import { READINESS, type Readiness } from '@headroom/runtime';
import { Authenticator, bearerToken } from '@headroom/tenancy';
import { RECEIVERS, receiverByPath } from '../receivers/registry';
import { DiscardCounters } from './discards';

export const INGEST_EDGE_OPTIONS = Symbol('INGEST_EDGE_OPTIONS');
export interface IngestEdgeOptions {
  maxBodyBytes: number;
}

/** The ingest principal: always an API key's, with its tenant. */
type IngestPrincipal = { tenant: string; actor: string };
const principals = new WeakMap<IncomingMessage, IngestPrincipal>();

/** The principal the edge authenticated for this request (set before its body was read). */
export function principalOf(request: FastifyRequest): IngestPrincipal | undefined {
  return principals.get(request.raw);
}

/**
 * The ingest edge before the body: a Fastify onRequest hook, which runs before any byte of the body
 * is read or parsed. An unready service, a missing or wrong API key and a declared body over the
 * limit are answered here, with the connection closed so the unread body is never received. A
 * body without Content-Length is cut off by Fastify's bodyLimit (same limit, 413) while streaming.
 */
@Injectable()
export class IngestEdge implements OnModuleInit {
  constructor(
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(Authenticator) private readonly authenticator: Authenticator,
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(DiscardCounters) private readonly counters: DiscardCounters,
    @Inject(INGEST_EDGE_OPTIONS) private readonly options: IngestEdgeOptions,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter.getInstance<FastifyInstance>();
    fastify.addHook('onRequest', async (request, reply) => {
      if (!request.url.startsWith('/v1/ingest/') && !receiverByPath(request.url.split('?')[0])) return;
      await this.beforeBody(request, reply);
    });
    // Receivers whose bodies are binary (protobuf, snappy) get them raw, under the same body limit.
    const raw = [...new Set(RECEIVERS.flatMap((r) => r.rawContentTypes))];
    if (raw.length > 0) fastify.addContentTypeParser(raw, { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    // Receivers that take compressed bodies (OTLP exporters' `compression: 'gzip'`) get them decoded
    // before parsing; Fastify's body limit counts the decoded bytes too, so a gzip bomb is cut off
    // at INGEST_MAX_BODY_BYTES (413), and bytes that are not gzip are a 400.
    fastify.addHook('preParsing', async (request, _reply, payload) => {
      const encoding = String(request.headers['content-encoding'] ?? '').trim().toLowerCase();
      if (encoding !== 'gzip' || !receiverByPath(request.url.split('?')[0])?.contentEncodings?.includes('gzip')) return payload;
      return gunzipped(payload);
    });
  }

  private async beforeBody(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const refuse = (status: number, tenant: string, body: { error: string; message: string }, retryAfterSeconds?: number) => {
      this.counters.requests.inc({ tenant, reason: body.error });
      if (retryAfterSeconds) void reply.header('retry-after', String(retryAfterSeconds));
      return reply.code(status).header('connection', 'close').send(body);
    };
    if (!(await this.readiness.isReady())) {
      await refuse(503, 'unknown', { error: 'not_ready', message: 'tenants are still loading or a dependency is down; retry shortly' }, 1);
      return;
    }
    // The same credentials and answers as the AuthGuard, which checks again after the body: 401
    // without a valid one, 403 for a valid one without the ingest scope (a read key, a person).
    const principal = await this.authenticator.authenticate(bearerToken(request.headers.authorization));
    if (!principal) {
      await refuse(401, 'unknown', { error: 'unauthorized', message: 'a valid ingest API key is required (Authorization: Bearer hr_...)' });
      return;
    }
    const scopes = principal.scopes ?? [];
    if (!principal.tenant || !(scopes.includes('ingest') || scopes.includes('admin'))) {
      await refuse(403, principal.tenant ?? 'unknown', { error: 'forbidden', message: 'this route takes an API key with the ingest scope' });
      return;
    }
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.options.maxBodyBytes) {
      await refuse(413, principal.tenant, {
        error: 'payload_too_large',
        message: `the body is ${declared} bytes, over the ingest limit of ${this.options.maxBodyBytes} bytes (INGEST_MAX_BODY_BYTES, below one Kafka record): split the batch`,
      });
      return;
    }
    principals.set(request.raw, { tenant: principal.tenant, actor: principal.actor });
  }
}

/**
 * The request body, gunzipped. `receivedEncodedLength` (the compressed bytes read) is what Fastify
 * compares with Content-Length and also holds under the body limit.
 */
function gunzipped(payload: Readable): Readable {
  const out = createGunzip() as ReturnType<typeof createGunzip> & { receivedEncodedLength: number };
  out.receivedEncodedLength = 0;
  payload.on('data', (chunk: Buffer) => (out.receivedEncodedLength += chunk.length));
  payload.on('error', (err) => out.destroy(err));
  out.on('error', (err: Error & { statusCode?: number }) => {
    err.statusCode ??= 400;
    err.message = `the body is not valid gzip (Content-Encoding: gzip): ${err.message}`;
  });
  return payload.pipe(out);
}
