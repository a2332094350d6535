import 'reflect-metadata';
import { Body, Controller, Delete, ForbiddenException, Get, Injectable, Module, Param, Post, Put, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { HttpErrorFilter } from '@headroom/runtime';
import { AuditTrail, type AuditRecord } from './audit-trail';
import { AuditInterceptor, auditOutcome, NoAudit } from './audit.interceptor';

const recorded: AuditRecord[] = [];

@Controller('v1/things')
class ThingsController {
  @Post(':id')
  create(@Param('id') id: string, @Body() _body: unknown) {
    return { id };
  }

  @Get(':id')
  read(@Param('id') id: string) {
    return { id };
  }

  @Put(':id')
  forbidden() {
    throw new ForbiddenException({ error: 'forbidden', message: 'not yours' });
  }

  @Delete(':id')
  broken(): never {
    throw new Error('database down');
  }

  @Post(':id/data')
  @NoAudit()
  data() {
    return { ok: true };
  }
}

@Controller('v1/ingest')
class IngestController {
  @Post('metrics')
  ingest() {
    return { accepted: 1 };
  }
}

/** Stands in for the auth guard: the principal comes from a test header. */
@Injectable()
class TestPrincipalGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string>; principal?: unknown }>();
    if (req.headers['x-test-actor']) req.principal = { actor: req.headers['x-test-actor'], tenant: req.headers['x-test-tenant'], role: 'admin' };
    return true;
  }
}

@Module({
  controllers: [ThingsController, IngestController],
  providers: [
    { provide: AuditTrail, useValue: { record: (e: AuditRecord) => recorded.push(e) } },
    { provide: APP_GUARD, useClass: TestPrincipalGuard },
    { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
  ],
})
class TestModule {}

let app: NestFastifyApplication;
let base: string;

beforeAll(async () => {
  app = await NestFactory.create<NestFastifyApplication>(TestModule, new FastifyAdapter(), { logger: false });
  app.useGlobalFilters(new HttpErrorFilter({ error: () => undefined } as never));
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await app.close();
});

beforeEach(() => {
  recorded.length = 0;
});

async function call(method: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const withBody = method !== 'GET' && method !== 'DELETE';
  const res = await fetch(`${base}${path}`, { method, headers: withBody ? { 'content-type': 'application/json', ...headers } : headers, body: withBody ? '{}' : undefined });
  await res.arrayBuffer();
  // The event is recorded once the answer has gone out: give the close event its turn.
  await new Promise((r) => setTimeout(r, 20));
  return res.status;
}

describe('AuditInterceptor', () => {
  it('records a mutating call with the actor, the route pattern and the status sent, never the query string', async () => {
    expect(await call('POST', '/v1/things/t-1?api_key=hunter2', { 'x-test-actor': 'key:k1a2b3c4d5', 'x-test-tenant': 'nova' })).toBe(201);
    expect(recorded).toEqual([
      {
        actor: 'key:k1a2b3c4d5',
        tenant: 'nova',
        action: 'http.post',
        target: 'POST /v1/things/:id',
        outcome: 'success',
        details: { path: '/v1/things/t-1', status: 201, durationMs: expect.any(Number) },
      },
    ]);
    expect(JSON.stringify(recorded)).not.toContain('hunter2');
  });

  it('records the outcome the client saw: denied for 401/403, error for a failure (as the filter answered it)', async () => {
    expect(await call('PUT', '/v1/things/t-1', { 'x-test-actor': 'person:ann', 'x-test-tenant': 'nova' })).toBe(403);
    expect(await call('DELETE', '/v1/things/t-1')).toBe(500);
    expect(recorded.map((e) => [e.actor, e.action, e.outcome, e.details['status']])).toEqual([
      ['person:ann', 'http.put', 'denied', 403],
      ['anonymous', 'http.delete', 'error', 500],
    ]);
    expect(recorded[1].tenant).toBeUndefined();
  });

  it('leaves out reads, @NoAudit() handlers and the ingest paths', async () => {
    expect(await call('GET', '/v1/things/t-1')).toBe(200);
    expect(await call('POST', '/v1/things/t-1/data')).toBe(201);
    expect(await call('POST', '/v1/ingest/metrics')).toBe(201);
    expect(recorded).toEqual([]);
  });
});

describe('auditOutcome', () => {
  it('maps statuses to outcomes', () => {
    expect([200, 204, 302, 400, 401, 403, 404, 409, 499, 500, 503].map(auditOutcome)).toEqual([
      'success', 'success', 'success', 'error', 'denied', 'denied', 'error', 'error', 'error', 'error', 'error',
    ]);
  });
});
