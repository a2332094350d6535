import { Global, Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Pool } from 'pg';
import { READINESS, type Readiness } from '@headroom/runtime';

export const PG_POOL = Symbol('PG_POOL');

/** control's own schema; no other service reads it. */
const MIGRATION = `
create schema if not exists control;
create table if not exists control.tenants (
  id text primary key,
  display_name text not null,
  locale text not null,
  shards int not null,
  status text not null,
  created_at timestamptz not null default now()
);
create table if not exists control.api_keys (
  key_id text primary key,
  tenant text not null references control.tenants(id) on delete cascade,
  secret_hash text not null,
  scopes text[] not null,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);
create table if not exists control.data_keys (
  tenant text not null references control.tenants(id) on delete cascade,
  purpose text not null,
  version int not null,
  kek_id text not null,
  wrapped text not null,
  state text not null,
  created_at timestamptz not null,
  primary key (tenant, purpose, version)
);
create table if not exists control.alert_configs (
  tenant text primary key references control.tenants(id) on delete cascade,
  config jsonb not null,
  updated_at timestamptz not null
);
create table if not exists control.erased_tenants (
  id text primary key,
  erased_at timestamptz not null
);
`;

@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(READINESS) private readonly readiness: Readiness,
  ) {}

  async onModuleInit(): Promise<void> {
    // Serialise concurrent boots (several replicas) on one advisory lock while migrating.
    const client = await this.pool.connect();
    try {
      await client.query('select pg_advisory_lock(715001)');
      await client.query(MIGRATION);
      await client.query('select pg_advisory_unlock(715001)');
    } finally {
      client.release();
    }
    this.readiness.register('postgres', async () => (await this.pool.query('select 1')).rowCount === 1);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

@Global()
@Module({})
export class DatabaseModule {
  static forRoot(url: string): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [{ provide: PG_POOL, useFactory: () => new Pool({ connectionString: url, max: 5 }) }, DatabaseLifecycle],
      exports: [PG_POOL],
    };
  }
}
