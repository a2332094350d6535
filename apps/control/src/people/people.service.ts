import { randomUUID } from 'node:crypto';
import { ForbiddenException, Inject, Injectable, NotFoundException, type OnApplicationBootstrap, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { SignJWT } from 'jose';
import type { Pool, PoolClient } from 'pg';
import type { JwksRecord, PeopleJwk, TokenRevokedRecord } from '@headroom/contracts';
import type { KeyEncryptionKey, WrappedKey } from '@headroom/crypto';
import { inTransaction, migrateSchema, PG_POOL } from '@headroom/database';
import { LOGGER, type Logger } from '@headroom/runtime';
import { PEOPLE_TOKEN_AUDIENCE, PEOPLE_TOKEN_MAX_TTL_SECONDS, roleAtLeast, type Principal } from '@headroom/tenancy';
import { auditEntry, ControlOutbox, controlEntry, tombstoneEntry } from '../outbox/control-outbox';
import type { MintTokenBody } from './people.dto';
import { generateSigningKey, unsealSigningKey } from './signing-keys';

export const PEOPLE_KEK = Symbol('PEOPLE_KEK');
/** `iss` of people's tokens; services take it from the jwks record, not from configuration. */
export const PEOPLE_TOKEN_ISSUER = 'headroom-control';

const SCHEMA = `
create schema if not exists control;
create table if not exists control.signing_keys (
  kid text primary key,
  public_jwk jsonb not null,
  wrapped_key jsonb not null,
  sealed text not null,
  created_at timestamptz not null default now(),
  superseded_at timestamptz
);
-- Tokens issued (never the token itself): what a revocation needs to know (tenant, expiry), and when
-- the revocation's record may leave the control topic.
-- A row lives as long as its token: at expiry it is deleted (a revoked one's record tombstoned with it),
-- and a tenant's erasure deletes its rows.
create table if not exists control.people_tokens (
  jti text primary key,
  sub text not null,
  tenant text,
  role text not null,
  expires_at timestamptz not null,
  revoked_at timestamptz
);
create index if not exists people_tokens_sub on control.people_tokens (tenant, sub) where revoked_at is null;
create index if not exists people_tokens_expiry on control.people_tokens (expires_at);
`;

interface KeyRow {
  kid: string;
  public_jwk: PeopleJwk;
  wrapped_key: WrappedKey;
  sealed: string;
  created_at: Date;
  superseded_at: Date | null;
}

/**
 * People's tokens: EdDSA JWTs signed with control's own key pair. The private key lives only in
 * control's PostgreSQL, sealed under the KEK; the public keys go out on the control topic (a `jwks`
 * record), which is how every other service verifies tokens without calling control. Rotation adds
 * a key that signs from then on; a superseded key stays published for the longest token lifetime,
 * so tokens it signed keep working until they expire.
 */
@Injectable()
export class PeopleService implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  private sweeper: NodeJS.Timeout | undefined;
  private signing: { kid: string; key: Awaited<ReturnType<typeof unsealSigningKey>> } | undefined;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(ControlOutbox) private readonly outbox: ControlOutbox,
    @Inject(PEOPLE_KEK) private readonly kek: KeyEncryptionKey,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  async onModuleInit(): Promise<void> {
    await migrateSchema(this.pool, 'control', SCHEMA);
  }

  /** A first key when there is none; the current public keys re-asserted on the control topic. */
  async onApplicationBootstrap(): Promise<void> {
    const record = await inTransaction(this.pool, async (db) => {
      // Two control replicas booting together create one key, not two.
      await db.query("select pg_advisory_xact_lock(hashtext('headroom:control:signing_keys'))");
      const { rowCount } = await db.query('select 1 from control.signing_keys where superseded_at is null');
      if (!rowCount) await this.insertKey(db);
      return this.announce(db);
    });
    await this.outbox.relay();
    this.logger.info({ kids: record.keys.map((k) => k.kid) }, 'token-signing public keys published');
    // Each expired revocation is claimed by one replica's update, so every replica may sweep.
    this.sweeper = setInterval(() => {
      this.tombstoneExpiredRevocations()
        .then((n) => (n ? this.outbox.relay() : undefined))
        .catch((err) => this.logger.warn({ err: String(err) }, 'could not sweep expired token revocations'));
    }, 600_000);
    this.sweeper.unref();
  }

  onApplicationShutdown(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** The public keys tokens may be signed with now (served at /.well-known/jwks.json and on the control topic). */
  async jwks(db: Pick<Pool, 'query'> = this.pool): Promise<JwksRecord> {
    const { rows } = await db.query<KeyRow>(
      `select kid, public_jwk from control.signing_keys
       where superseded_at is null or superseded_at > now() - make_interval(secs => $1)
       order by created_at desc limit 16`,
      [PEOPLE_TOKEN_MAX_TTL_SECONDS],
    );
    return { kind: 'jwks', issuer: PEOPLE_TOKEN_ISSUER, keys: rows.map((r) => r.public_jwk), updatedAt: new Date().toISOString() };
  }

  /** A new signing key; the previous one verifies its tokens until they have expired. */
  async rotate(): Promise<{ kid: string; published: string[] }> {
    const { kid, record } = await inTransaction(this.pool, async (db) => {
      await db.query("select pg_advisory_xact_lock(hashtext('headroom:control:signing_keys'))");
      await db.query('update control.signing_keys set superseded_at = now() where superseded_at is null');
      const kid = await this.insertKey(db);
      return { kid, record: await this.announce(db) };
    });
    await this.outbox.relay();
    return { kid, published: record.keys.map((k) => k.kid) };
  }

  /**
   * A token for a person. Platform-admin mints any; a tenant's admin mints for its own tenant only, a
   * role no stronger than its own. The tenant must be active (a suspended or erased one gets none).
   */
  async mint(caller: Principal, body: MintTokenBody): Promise<{ token: string; tokenType: 'Bearer'; jti: string; expiresAt: string }> {
    if (caller.role !== 'platform-admin') {
      if (body.tenant !== caller.tenant) throw new ForbiddenException({ error: 'forbidden', message: "a tenant's admin mints tokens for its own tenant only" });
      if (body.role === 'platform-admin' || !roleAtLeast(caller.role, body.role)) throw new ForbiddenException({ error: 'forbidden', message: `a token cannot carry a role stronger than the caller's (${caller.role})` });
    }
    if (body.tenant !== undefined) {
      const { rows } = await this.pool.query<{ status: string }>('select status from control.tenants where id = $1', [body.tenant]);
      if (rows[0]?.status !== 'active') throw new NotFoundException({ error: 'not_found', message: `no active tenant ${body.tenant}` });
    }
    const { kid, key } = await this.currentKey();
    const jti = randomUUID();
    const exp = Math.floor(Date.now() / 1000) + body.ttlSeconds;
    const token = await new SignJWT({ role: body.role, ...(body.tenant ? { tenant: body.tenant } : {}) })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
      .setSubject(body.sub)
      .setIssuer(PEOPLE_TOKEN_ISSUER)
      .setAudience(PEOPLE_TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .setJti(jti)
      .sign(key);
    await this.pool.query('insert into control.people_tokens (jti, sub, tenant, role, expires_at) values ($1, $2, $3, $4, to_timestamp($5))', [jti, body.sub, body.tenant ?? null, body.role, exp]);
    return { token, tokenType: 'Bearer', jti, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /**
   * Revokes tokens before their expiry: one by `jti`, or every live one of a person (`sub`) in a
   * tenant. A `token_revoked` record per token goes out through the outbox; every service refuses the
   * token once it has read it. A tenant's admin revokes its own tenant's tokens only (another's: not
   * found); platform-admin any.
   */
  async revoke(caller: Principal, which: { jti: string } | { tenant: string; sub: string }): Promise<{ revoked: string[] }> {
    const scope = caller.role === 'platform-admin' ? undefined : caller.tenant;
    const revoked = await inTransaction(this.pool, async (db) => {
      const { rows } = await db.query<{ jti: string; tenant: string | null; expires_at: Date }>(
        'jti' in which
          ? `update control.people_tokens set revoked_at = now() where jti = $1 and revoked_at is null and expires_at > now() and ($2::text is null or tenant = $2) returning jti, tenant, expires_at`
          : `update control.people_tokens set revoked_at = now() where tenant = $1 and sub = $2 and revoked_at is null and expires_at > now() and ($3::text is null or tenant = $3) returning jti, tenant, expires_at`,
        'jti' in which ? [which.jti, scope ?? null] : [which.tenant, which.sub, scope ?? null],
      );
      const at = new Date().toISOString();
      const records: TokenRevokedRecord[] = rows.map((r) => ({ kind: 'token_revoked', jti: r.jti, ...(r.tenant ? { tenant: r.tenant } : {}), expiresAt: r.expires_at.toISOString(), revokedAt: at }));
      await this.outbox.enqueue(db, [
        ...records.map((r) => controlEntry(r)),
        ...records.map((r) => auditEntry({ action: 'token.revoke', actor: caller.actor, ...(r.tenant ? { tenant: r.tenant } : {}), target: r.jti })),
      ]);
      return rows.map((r) => r.jti);
    });
    if ('jti' in which && revoked.length === 0) {
      // Unknown, another tenant's, already revoked or expired: nothing left to refuse, one answer for all.
      throw new NotFoundException({ error: 'not_found', message: `no live token ${which.jti}` });
    }
    if (revoked.length) await this.outbox.relay().catch(() => undefined);
    return { revoked };
  }

  /**
   * Expired tokens' rows go (they name a person); a revoked one's record leaves the control topic with
   * it (a tombstone): nothing is left to refuse. Returns how many revocations were tombstoned.
   */
  async tombstoneExpiredRevocations(): Promise<number> {
    return inTransaction(this.pool, async (db) => {
      const { rows } = await db.query<{ jti: string; revoked: boolean }>('delete from control.people_tokens where expires_at < now() returning jti, revoked_at is not null as revoked');
      const revoked = rows.filter((r) => r.revoked);
      await this.outbox.enqueue(db, revoked.map((r) => tombstoneEntry(`token_revoked/${r.jti}`)));
      return revoked.length;
    });
  }

  /** The newest key, unsealed once per kid (another replica's rotation is picked up at the next token). */
  private async currentKey(): Promise<NonNullable<PeopleService['signing']>> {
    const { rows } = await this.pool.query<KeyRow>('select kid, wrapped_key, sealed from control.signing_keys where superseded_at is null order by created_at desc limit 1');
    const row = rows[0];
    if (!row) throw new Error('no token-signing key: control has not finished booting');
    if (this.signing?.kid !== row.kid) this.signing = { kid: row.kid, key: await unsealSigningKey(this.kek, { kid: row.kid, wrappedKey: row.wrapped_key, sealed: row.sealed }) };
    return this.signing;
  }

  private async insertKey(db: PoolClient): Promise<string> {
    const key = await generateSigningKey(this.kek);
    await db.query('insert into control.signing_keys (kid, public_jwk, wrapped_key, sealed) values ($1, $2, $3, $4)', [key.kid, JSON.stringify(key.publicJwk), JSON.stringify(key.wrappedKey), key.sealed]);
    return key.kid;
  }

  /** The jwks record, through control's outbox: on the topic if and only if this transaction commits. */
  private async announce(db: PoolClient): Promise<JwksRecord> {
    const record = await this.jwks(db);
    await this.outbox.enqueue(db, [controlEntry(record)]);
    return record;
  }
}
