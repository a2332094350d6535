import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { DlqRecordMessage } from '@headroom/contracts';
import { PG_POOL } from '@headroom/database';
import type { RecordPublisher } from '@headroom/kafka';
import { LOGGER, METRICS, type Logger } from '@headroom/runtime';
import { PUBLISHER, TenantDirectory, SubjectErasures } from '@headroom/tenancy';
import type { AlertingConfig } from '../config';
import { CONSUMER_OPTIONS, type ConsumerOptions } from '../tokens';
import { defaultChannelRegistry } from '../channels/default-registry';
import { AlertGroupsController } from './alert-groups.controller';
import { DispatchConsumer } from './dispatch.consumer';
import { DispatchRepository } from './dispatch.repository';
import { DISPATCH_OPTIONS, type DispatchHttpOptions } from './dispatch.tokens';
import { DEFAULT_DISPATCHER_OPTIONS, Dispatcher, type DeadLetters } from './dispatcher';
import { buildTenantView } from './tenant-view.factory';
import type { TenantView } from './tenant-view';

@Injectable()
class DispatchLifecycle implements OnModuleInit {
  constructor(
    @Inject(DispatchRepository) private readonly repo: DispatchRepository,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(TenantDirectory) directory: TenantDirectory,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    // Registered before the control topic is read. An erased tenant leaves nothing here: alerts,
    // groups, queued notifications, threads, silences. Deletions wait for the schema (migrated in
    // onModuleInit); a failure is logged, and the next boot re-reads tenant_erased and deletes again.
    directory.onRecord((r) => {
      if (r.kind !== 'tenant_erased') return;
      void this.migrated
        .then(() => this.repo.eraseTenant(r.tenant))
        .catch((err) => this.logger.error({ tenant: r.tenant, err: String(err) }, 'could not delete erased tenant alerting rows'));
    });
  }

  private markMigrated!: () => void;
  private readonly migrated = new Promise<void>((resolve) => (this.markMigrated = resolve));

  async onModuleInit(): Promise<void> {
    await this.repo.migrate();
    this.markMigrated();
    // Slack's interactivity requests are form-encoded and signed over the raw bytes: keep them raw.
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify?.hasContentTypeParser('application/x-www-form-urlencoded')) fastify.removeContentTypeParser('application/x-www-form-urlencoded');
    fastify?.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  }
}

/**
 * Tenant views, rebuilt when the tenant's alert config or tenant record changes (by object identity),
 * or a data key of the tenant arrives: a secret sealed under a key not read yet opens then.
 */
function tenantViews(directory: TenantDirectory, config: AlertingConfig, logger: Logger) {
  const registry = defaultChannelRegistry();
  const cache = new Map<string, { config: object; tenant: object | undefined; view: TenantView | undefined }>();
  directory.onRecord((r) => {
    if (r.kind === 'data_key') cache.delete(r.tenant);
  });
  return (tenant: string): TenantView | undefined => {
    const alertConfig = directory.alertConfig(tenant);
    if (!alertConfig || directory.isErased(tenant)) return undefined;
    const record = directory.tenant(tenant);
    const hit = cache.get(tenant);
    if (hit && hit.config === alertConfig && hit.tenant === record) return hit.view;
    let view: TenantView | undefined;
    try {
      view = buildTenantView(record, alertConfig, registry, logger, directory.keyring, { botToken: config.SLACK_TOKEN });
    } catch (err) {
      logger.error({ tenant, err: String(err) }, 'tenant alert routing does not compile; its alerts cannot be routed');
    }
    cache.set(tenant, { config: alertConfig, tenant: record, view });
    return view;
  };
}

function smtpConfig(url: string | undefined, from: string): Record<string, unknown> | undefined {
  if (!url) return undefined;
  const u = new URL(url);
  const secure = u.protocol === 'smtps:';
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : secure ? 465 : 587,
    secure,
    ...(u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : {}),
    from,
  };
}

@Module({})
export class DispatchModule {
  static forRoot(config: AlertingConfig): DynamicModule {
    return {
      module: DispatchModule,
      controllers: [AlertGroupsController],
      providers: [
        { provide: CONSUMER_OPTIONS, useValue: { ALERTING_GROUP_ID: config.ALERTING_GROUP_ID } satisfies ConsumerOptions },
        { provide: DISPATCH_OPTIONS, useValue: { slackSigningSecret: config.SLACK_SIGNING_SECRET } satisfies DispatchHttpOptions },
        { provide: DispatchRepository, inject: [PG_POOL], useFactory: (pool: Pool) => new DispatchRepository(pool) },
        { provide: SubjectErasures, useFactory: () => new SubjectErasures() },
        {
          provide: Dispatcher,
          inject: [DispatchRepository, TenantDirectory, PUBLISHER, LOGGER, METRICS, SubjectErasures],
          useFactory: (repo: DispatchRepository, directory: TenantDirectory, publisher: RecordPublisher, logger: Logger, metrics: Registry, erasedSubjects: SubjectErasures) => {
            const smtp = smtpConfig(config.SMTP_URL, config.SMTP_FROM);
            const senders = defaultChannelRegistry().createSenders(
              {
                slack: { apiUrl: config.SLACK_API_URL, ...(config.SLACK_SIGNING_SECRET ? { signingSecret: config.SLACK_SIGNING_SECRET } : {}) },
                pagerduty: { apiUrl: config.PAGERDUTY_EVENTS_URL },
                webhook: { ...(config.ALERTING_PUBLIC_URL ? { externalUrl: config.ALERTING_PUBLIC_URL } : {}), egressAllow: config.ALERTING_EGRESS_ALLOW },
                sms: { egressAllow: config.ALERTING_EGRESS_ALLOW },
                ...(smtp ? { email: smtp } : {}),
              },
              ['slack', 'pagerduty', 'webhook', 'sms', ...(smtp ? ['email'] : [])],
            );
            const deadLetters: DeadLetters = {
              async report(entry, reason, code) {
                // The payload stays in alerting.outbox (it holds the tenant's labels in clear): the DLQ
                // record points at it.
                await publisher.publish(DlqRecordMessage, [
                  {
                    key: `${entry.tenant}/${entry.receiver}`,
                    value: {
                      failedAt: new Date().toISOString(),
                      service: 'alerting',
                      consumerGroup: `${config.ALERTING_GROUP_ID}-dispatch`,
                      reason: `${reason} (alerting.outbox id ${entry.id})`.slice(0, 2000),
                      code,
                      source: { topic: 'alerting.outbox', partition: 0, offset: entry.id, key: `${entry.tenant}/${entry.receiver}/${entry.channel}`, headers: { 'hr-tenant': entry.tenant } },
                      value: null,
                    },
                  },
                ]);
              },
            };
            return new Dispatcher(repo, tenantViews(directory, config, logger), senders, deadLetters, logger, metrics, {
              ...DEFAULT_DISPATCHER_OPTIONS,
              concurrency: config.ALERTING_DISPATCH_CONCURRENCY,
              maxAttempts: config.ALERTING_MAX_ATTEMPTS,
              backoff: { baseMs: config.ALERTING_BACKOFF_BASE_MS, maxMs: config.ALERTING_BACKOFF_MAX_MS },
              tenantPerMinute: config.ALERTING_TENANT_RATE_PER_MINUTE,
              receiverPerMinute: config.ALERTING_RECEIVER_RATE_PER_MINUTE,
              ackBaseUrl: config.ALERTING_PUBLIC_URL ? `${config.ALERTING_PUBLIC_URL.replace(/\/$/, '')}/v1/alert-groups` : undefined,
              erasedSubjects,
            });
          },
        },
        DispatchConsumer,
        DispatchLifecycle,
      ],
      exports: [Dispatcher, DispatchRepository, SubjectErasures],
    };
  }
}
