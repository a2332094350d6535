import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import { migrateSchema, PG_POOL } from '@headroom/database';
import { API_KEY_MAC_SCHEMA } from './api-key-mac';

/** control's own schema; no other service reads it. */
const CONTROL_SCHEMA = `
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
alter table control.tenants add column if not exists limits jsonb;
create table if not exists control.erased_tenants (
  id text primary key,
  erased_at timestamptz not null
);
`;

@Injectable()
export class ControlSchemaMigration implements OnModuleInit {
  // Runs in onModuleInit, before TenantsService republishes in onApplicationBootstrap.
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async onModuleInit(): Promise<void> {
    await migrateSchema(this.pool, 'control', CONTROL_SCHEMA + API_KEY_MAC_SCHEMA);
  }
}
