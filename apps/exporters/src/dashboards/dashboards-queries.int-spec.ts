/**
 * Every panel query of every generated dashboard, run against the real datasource it names: the
 * panel's datasource uid is looked up in the generated provisioning files, and the query goes to
 * what that entry points at — Debian's Prometheus 2.42 (one per tenant, fed by remote_write with the
 * exporters' window naming) or the real PostgreSQL (analytics' own migration in a throwaway
 * database, logged in as the tenant's read-only role). Two tenants, A and B, with different data:
 * each panel must return data, and it must be its tenant's (labels carry a tenant marker; values
 * differ from the same query against the other tenant's store; SQL gives the same rows with and
 * without row-level security, and nothing to the other tenant's role).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import * as protobuf from 'protobufjs';
import { compressSync } from 'snappy';
import { expectEventually, testInfra, uniqueId } from '@headroom/testing';
import { dashboardVariables, interpolate, panelQueries, promDuration, type PanelQuery, type QueryTime } from './panel-queries';
import { readerPasswordEnv, readerRole, readerSql } from './postgres-readers';
import { provisioningFiles, type DatasourceEntry, type ProvisioningInput } from './provisioning';
import { DASHBOARD_VIEWS, DEFAULT_DASHBOARD_METRICS as M } from './tenant-dashboards';
import { WINDOW_QUANTILES, windowSeries } from './window-series';

const ROOT = resolve(__dirname, '../../../..');
const run = Date.now().toString(36);
const A = uniqueId('dash-a');
const B = uniqueId('dash-b');
const marker: Record<string, string> = { [A]: 'tenant-a', [B]: 'tenant-b' };
const other = (t: string) => (t === A ? B : A);
const WINDOW_MS = 10_000;
const now = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS;
/** 40 minutes of windows in Prometheus (inside its 1 h out-of-order horizon for a fresh head). */
const PROM_WINDOWS = 240;
const time: QueryTime = { fromMs: now - 2 * 3600_000, toMs: now, intervalMs: 60_000 };

// ---------------------------------------------------------------- seeded data

interface Stats {
  count: number;
  sum: number;
  min: number;
  max: number;
  p50: number;
  p95: number;
  p99: number;
}
interface SeedSeries {
  name: string;
  labels: Record<string, string>;
  /** The window statistics of window i (0 = oldest). */
  at: (i: number) => Stats;
}

/** count points of about `v` each; the spread is fixed so every statistic is known. */
const stats = (count: number, v: number): Stats => ({ count, sum: count * v, min: v * 0.5, max: v * 2, p50: v, p95: v * 1.5, p99: v * 1.8 });

/** Tenant B has the same shapes as A at other levels (k), so every panel's answer differs between them. */
function dataset(tenant: string): SeedSeries[] {
  const m = marker[tenant];
  const k = tenant === A ? 1 : 3;
  const wobble = (i: number) => 1 + (i % 5) / 10;
  // Counts differ too, so that even a panel of point counts tells the tenants apart.
  const n = (count: number) => count * (tenant === A ? 1 : 2);
  const out: SeedSeries[] = [];
  for (const route of [`/${m}/play`, `/${m}/search`]) {
    out.push({ name: M.requestLatency, labels: { route }, at: (i) => stats(n(100), 80 * k * wobble(i)) });
    out.push({ name: M.requestErrors, labels: { route }, at: () => stats(n(k), k) });
  }
  for (const host of [`${m}-host-1`, `${m}-host-2`]) {
    out.push({ name: M.cpu, labels: { host }, at: (i) => stats(n(10), 20 * k * wobble(i)) });
    out.push({ name: M.memory, labels: { host }, at: (i) => stats(n(10), 2e9 * k * wobble(i)) });
    out.push({ name: M.diskIo, labels: { host }, at: (i) => stats(n(10), 4096 * k * wobble(i)) });
    for (const direction of ['rx', 'tx']) out.push({ name: M.network, labels: { host, direction }, at: (i) => stats(n(10), 1e5 * k * wobble(i)) });
  }
  out.push({ name: M.queueDepth, labels: { queue: `${m}-ingest` }, at: (i) => stats(n(10), 20 * k * wobble(i)) });
  out.push({ name: M.plays, labels: { market: `${m}-fr` }, at: () => stats(n(20), 3 * k) });
  out.push({ name: M.revenue, labels: { currency: `${m}-eur` }, at: () => stats(n(5), 9.99 * k) });
  out.push({ name: M.activeUsers, labels: { app: `${m}-web` }, at: (i) => stats(n(1), 1000 * k * wobble(i)) });
  for (const reason of ['bad_password', 'unknown_user']) {
    out.push({ name: M.failedLogins, labels: { reason, source: `${m}-10.0.0.${reason.length}` }, at: () => stats(n(2), k) });
  }
  for (const model of [`${m}-recommender`, `${m}-ranker`]) {
    out.push({ name: M.modelLatency, labels: { model }, at: (i) => stats(n(50), 12 * k * wobble(i)) });
    out.push({ name: M.modelAccuracy, labels: { model }, at: (i) => stats(n(50), (tenant === A ? 0.93 : 0.81) - (i % 3) / 100) });
    out.push({ name: M.modelDrift, labels: { model }, at: (i) => stats(n(1), 0.05 * k * wobble(i)) });
  }
  return out;
}

// ---------------------------------------------------------------- Prometheus, one per tenant

const proto = protobuf.Root.fromJSON({
  nested: {
    WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
    TimeSeries: { fields: { labels: { rule: 'repeated', type: 'Label', id: 1 }, samples: { rule: 'repeated', type: 'Sample', id: 2 } } },
    Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
    Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
  },
}).lookupType('WriteRequest');

/** The samples the exporters write for a window: quantiles, then _sum, _count, _min, _max, stamped at the window's end. */
function promSeriesOf(s: SeedSeries): { labels: { name: string; value: string }[]; samples: { value: number; timestamp: number }[] }[] {
  const at = (i: number) => now - (PROM_WINDOWS - 1 - i) * WINDOW_MS;
  const windows = Array.from({ length: PROM_WINDOWS }, (_, i) => ({ ts: at(i), st: s.at(i) }));
  const labelsOf = (name: string, extra: Record<string, string> = {}) =>
    Object.entries({ __name__: name, ...s.labels, ...extra })
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([n, value]) => ({ name: n, value }));
  return [
    ...WINDOW_QUANTILES.map((q) => ({ labels: labelsOf(s.name, { quantile: q.quantile }), samples: windows.map((w) => ({ value: w.st[q.field], timestamp: w.ts })) })),
    ...(['sum', 'count', 'min', 'max'] as const).map((stat) => ({ labels: labelsOf(windowSeries(s.name, stat)), samples: windows.map((w) => ({ value: w.st[stat], timestamp: w.ts })) })),
  ];
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
}

class TenantPrometheus {
  private child: ChildProcess | undefined;
  private exit: Promise<unknown> | undefined;
  private port = 0;
  private readonly dir: string;

  constructor(readonly tenant: string) {
    this.dir = join(ROOT, 'tmp', 'dashboards-int', `${run}-${marker[tenant]}`);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    mkdirSync(join(this.dir, 'data'), { recursive: true });
    mkdirSync(join(ROOT, 'tmp', 'test-logs'), { recursive: true });
    writeFileSync(join(this.dir, 'prometheus.yml'), 'global:\n  scrape_interval: 10s\n');
    const log = createWriteStream(join(ROOT, 'tmp', 'test-logs', `prometheus-dashboards-${marker[this.tenant]}.log`), { flags: 'a' });
    this.child = spawn(
      'prometheus',
      [`--config.file=${join(this.dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(this.dir, 'data')}`, `--web.listen-address=127.0.0.1:${this.port}`, '--web.enable-remote-write-receiver'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child.stdout!.pipe(log);
    this.child.stderr!.pipe(log);
    this.exit = new Promise((r) => this.child!.once('exit', r));
    await expectEventually(
      async () => {
        if (this.child!.exitCode !== null) throw new Error(`prometheus for ${this.tenant} exited (${this.child!.exitCode})`);
        expect((await fetch(`${this.url}/-/ready`)).status).toBe(200);
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  }

  async remoteWrite(series: SeedSeries[]): Promise<void> {
    const timeseries = series.flatMap(promSeriesOf);
    const body = compressSync(Buffer.from(proto.encode(proto.fromObject({ timeseries })).finish()));
    const res = await fetch(`${this.url}/api/v1/write`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0' },
      body,
    });
    expect({ status: res.status, body: await res.text() }).toEqual({ status: 204, body: '' });
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    await this.exit;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface PromAnswer {
  labels: Record<string, string>;
  values: number[];
}

/** A PromQL query through a datasource entry, as Grafana's Prometheus datasource sends it (POST form). */
async function promQuery(ds: DatasourceEntry, expr: string, instant: boolean): Promise<PromAnswer[]> {
  const form = new URLSearchParams({ query: expr });
  if (instant) form.set('time', String(time.toMs / 1000));
  else {
    form.set('start', String(time.fromMs / 1000));
    form.set('end', String(time.toMs / 1000));
    form.set('step', String(time.intervalMs / 1000));
  }
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  const headerName = ds.jsonData['httpHeaderName1'];
  if (typeof headerName === 'string') headers[headerName] = ds.secureJsonData!['httpHeaderValue1'];
  const res = await fetch(`${ds.url}/api/v1/${instant ? 'query' : 'query_range'}`, { method: 'POST', headers, body: form });
  const body = (await res.json()) as { status: string; error?: string; data: { resultType: string; result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[] } };
  if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
  if (body.data.resultType === 'scalar') return [{ labels: {}, values: [Number((body.data.result as unknown as [number, string])[1])] }];
  return body.data.result.map((r) => ({ labels: r.metric, values: (r.values ?? (r.value ? [r.value] : [])).map(([, v]) => Number(v)) }));
}

/** `label_values(selector, label)`, as Grafana's variable editor runs it: the label's values among the matching series. */
async function promLabelValues(ds: DatasourceEntry, query: string, regex: string | undefined): Promise<string[]> {
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(query);
  if (!m) throw new Error(`unsupported variable query ${query}`);
  const params = new URLSearchParams({ 'match[]': m[1], start: String(time.fromMs / 1000), end: String(time.toMs / 1000) });
  const body = (await (await fetch(`${ds.url}/api/v1/label/${m[2]}/values?${params}`)).json()) as { data: string[] };
  if (!regex) return body.data;
  const re = new RegExp(regex.replace(/^\/(.*)\/$/, '$1'));
  return [...new Set(body.data.flatMap((v) => re.exec(v)?.[1] ?? []))];
}

// ---------------------------------------------------------------- PostgreSQL

const infra = testInfra();
const database = `dashboards_${run}`.replace(/[^a-z0-9_]/g, '_');
const dbUrl = (user: string, password: string, db = database) => {
  const u = new URL(infra.databaseUrl);
  u.username = user;
  u.password = password;
  u.pathname = `/${db}`;
  return u.toString();
};
const owner = new URL(infra.databaseUrl);
const readerPassword = (tenant: string) => `pw-${marker[tenant]}-${run}`;

/** psql as the postgres superuser (peer authentication), as tools/infra does: only it may create roles. */
function psqlAsPostgres(sql: string): void {
  const psql = ['psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', 'postgres', '-c', sql];
  execFileSync('runuser', ['-u', 'postgres', '--', ...psql], { cwd: '/tmp', stdio: 'pipe' });
}

/** analytics' own migration and partitions, in a child process (module boundaries keep an app's code out of another's imports). */
function migrateAnalytics(url: string): void {
  const script = `
    const { Pool } = require('pg');
    const { WindowsRepository, RESOLUTIONS } = require('./apps/analytics/src/windows/windows.repository');
    (async () => {
      const pool = new Pool({ connectionString: ${JSON.stringify(url)} });
      const repo = new WindowsRepository(pool);
      await repo.migrate();
      for (const r of RESOLUTIONS) await repo.ensurePartitions(r, [${time.fromMs - 3600_000}, ${time.toMs}]);
      await pool.end();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  execFileSync(process.execPath, ['-r', '@swc-node/register', '-e', script], { cwd: ROOT, stdio: 'pipe' });
}

/** A window row per series per window of each resolution over the test range. */
async function seedWindows(db: Client, tenant: string): Promise<void> {
  const series = dataset(tenant);
  const resolutions = [
    { table: 'analytics.windows_10s', ms: 10_000 },
    { table: 'analytics.windows_1m', ms: 60_000 },
    { table: 'analytics.windows_1h', ms: 3600_000 },
  ];
  for (const r of resolutions) {
    const rows: unknown[][] = [];
    const first = Math.ceil(time.fromMs / r.ms) * r.ms;
    for (let start = first, i = 0; start < time.toMs; start += r.ms, i++) {
      for (const [n, s] of series.entries()) {
        const st = s.at(i);
        const scale = r.ms / WINDOW_MS;
        rows.push([tenant, `${s.name}#${n}`, start, s.name, JSON.stringify(s.labels), st.count * scale, st.sum * scale, st.min, st.max, st.p50, st.p95, st.p99]);
      }
    }
    const cols = rows[0].map((_, c) => rows.map((row) => row[c]));
    await db.query(
      `insert into ${r.table} (tenant, series_id, window_start, name, labels, count, sum, min, max, p50, p95, p99, sketch)
       select t.*, '\\x'::bytea from unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::bigint[], $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::float8[]) as t`,
      cols,
    );
  }
}

// ---------------------------------------------------------------- the run

const proms = new Map<string, TenantPrometheus>();
let input: ProvisioningInput;
let datasources: Map<string, DatasourceEntry>;
let ownerDb: Client;
const readers = new Map<string, Client>();

describe('every panel of every generated dashboard, against the real datasource it names', () => {
  beforeAll(async () => {
    for (const t of [A, B]) {
      const p = new TenantPrometheus(t);
      await p.start();
      await p.remoteWrite(dataset(t));
      proms.set(t, p);
    }
    const admin = new Client({ connectionString: infra.databaseUrl });
    await admin.connect();
    await admin.query(`create database ${database}`);
    await admin.end();
    migrateAnalytics(dbUrl(decodeURIComponent(owner.username), decodeURIComponent(owner.password)));
    ownerDb = new Client({ connectionString: dbUrl(decodeURIComponent(owner.username), decodeURIComponent(owner.password)) });
    await ownerDb.connect();
    for (const t of [A, B]) await seedWindows(ownerDb, t);

    input = {
      prometheus: { url: 'http://unused.invalid' },
      postgres: { host: `${owner.hostname}:${owner.port || 5432}`, database, sslmode: 'disable' },
      tenants: [A, B].map((t) => ({ tenant: t, displayName: marker[t], prometheusUrl: proms.get(t)!.url })),
    };
    // The reader roles and their policies, exactly as generated for deploy/grafana.
    const sql = readerSql([A, B]);
    psqlAsPostgres([...sql.roles, ...[A, B].map((t) => `alter role "${readerRole(t)}" password '${readerPassword(t)}'`)].join(';\n'));
    for (const s of sql.policies) await ownerDb.query(s);
    for (const t of [A, B]) {
      const c = new Client({ connectionString: dbUrl(readerRole(t), readerPassword(t)) });
      await c.connect();
      readers.set(t, c);
    }
    datasources = new Map();
    for (const f of provisioningFiles(input).files.filter((f) => f.path.startsWith('datasources/'))) {
      for (const ds of (JSON.parse(f.content) as { datasources: DatasourceEntry[] }).datasources) datasources.set(ds.uid, ds);
    }
  }, 120_000);

  afterAll(async () => {
    for (const c of readers.values()) await c.end();
    await ownerDb?.end();
    const admin = new Client({ connectionString: infra.databaseUrl });
    await admin.connect();
    await admin.query(`drop database if exists ${database} with (force)`);
    await admin.end();
    psqlAsPostgres([A, B].map((t) => `drop role if exists "${readerRole(t)}"`).join(';\n'));
    for (const p of proms.values()) await p.stop();
  }, 60_000);

  /** Each tenant's dashboards, from the same generator run that wrote the datasources. */
  const dashboardsOf = (t: string) => provisioningFiles(input).dashboards.filter((d) => d.tenant === t);

  /** Values for the dashboard's variables, resolved against its own datasources as Grafana would. */
  async function variableSets(t: string, view: string): Promise<Record<string, string>[]> {
    const d = dashboardsOf(t).find((x) => x.view === view)!.dashboard;
    let sets: Record<string, string>[] = [{}];
    for (const v of dashboardVariables(d)) {
      const ds = datasources.get(v.datasource!.uid!)!;
      const query = typeof v.query === 'string' ? v.query : String((v.query as Record<string, unknown>)['query']);
      const values = await promLabelValues(ds, query, v.regex);
      expect({ variable: v.name, values }).toEqual({ variable: v.name, values: expect.arrayContaining([expect.any(String)]) });
      // A multi-value variable with "All" sends its allValue; a single-value one is checked with each value.
      const choices = v.includeAll && v.allValue ? [v.allValue, ...values] : values;
      sets = sets.flatMap((s) => choices.map((c) => ({ ...s, [v.name]: c })));
    }
    return sets;
  }

  async function runPanel(t: string, q: PanelQuery, vars: Record<string, string>) {
    const ds = datasources.get(q.datasourceUid);
    if (!ds) throw new Error(`${q.dashboardUid} / ${q.panel}: datasource ${q.datasourceUid} is not provisioned`);
    const text = interpolate(q.text, time, vars);
    if (q.kind === 'prometheus') {
      return { ds, text, prom: await promQuery(ds, text, q.instant) };
    }
    const reader = readers.get(t)!;
    expect(ds.user).toBe(readerRole(t));
    expect(ds.secureJsonData?.['password']).toBe(`$${readerPasswordEnv(t)}`);
    expect(ds.jsonData['database']).toBe(database);
    return { ds, text, rows: (await reader.query(text)).rows as Record<string, unknown>[] };
  }

  const finite = (v: unknown) => v !== null && v !== undefined && Number.isFinite(Number(v));
  let checked = 0;

  for (const [tenantName, view] of DASHBOARD_VIEWS.flatMap((v) => [['A', v], ['B', v]] as const)) {
    it(`${view} of tenant ${tenantName}: every panel returns the tenant's data and none of the other's`, async () => {
      const t = tenantName === 'A' ? A : B;
      const d = dashboardsOf(t).find((x) => x.view === view)!.dashboard;
      const queries = panelQueries(d);
      expect(queries.length).toBeGreaterThan(0);
      for (const vars of await variableSets(t, view)) {
        for (const q of queries) {
          const where = `${d.uid} / ${q.panel} / ${q.refId} ${JSON.stringify(vars)}`;
          const res = await runPanel(t, q, vars);
          if (res.prom) {
            // Data: at least one series with a finite value.
            expect({ where, data: res.prom.some((s) => s.values.some(Number.isFinite)) }).toEqual({ where, data: true });
            // Its tenant's: no label value of the other tenant.
            const labels = res.prom.flatMap((s) => Object.values(s.labels));
            expect({ where, foreign: labels.filter((l) => l.includes(marker[other(t)])) }).toEqual({ where, foreign: [] });
            // And not the other tenant's numbers: the same query against the other tenant's store answers differently.
            const otherStore = { ...res.ds, url: proms.get(other(t))!.url };
            const foreignAnswer = await promQuery(otherStore, res.text, q.instant);
            expect({ where, sameAsOther: JSON.stringify(foreignAnswer.map((s) => s.values)) === JSON.stringify(res.prom.map((s) => s.values)) }).toEqual({ where, sameAsOther: false });
          } else {
            const rows = res.rows!;
            expect({ where, rows: rows.length > 0 && rows.every((r) => Object.entries(r).some(([k, v]) => k !== 'time' && finite(v))) }).toEqual({ where, rows: true });
            // The baked-in filter alone: the table owner (no row-level security) gets the same rows.
            expect((await ownerDb.query(res.text)).rows).toEqual(rows);
            // Row-level security alone: the other tenant's role running this tenant's query sees nothing.
            const foreign = (await readers.get(other(t))!.query(res.text)).rows as Record<string, unknown>[];
            expect({ where, foreign: foreign.filter((r) => Object.entries(r).some(([k, v]) => k !== 'time' && v !== null && Number(v) !== 0)) }).toEqual({ where, foreign: [] });
            expect(JSON.stringify(rows)).not.toContain(marker[other(t)]);
          }
          checked++;
        }
      }
    });
  }

  it('the numbers a person reads: plays, revenue, failed logins and availability over the range are the seeded ones', async () => {
    const business = dashboardsOf(A).find((x) => x.view === 'business-kpis')!.dashboard;
    const security = dashboardsOf(A).find((x) => x.view === 'security')!.dashboard;
    const sla = dashboardsOf(A).find((x) => x.view === 'sla')!.dashboard;
    const single = async (d: typeof business, panel: string) => {
      const q = panelQueries(d).find((x) => x.panel.startsWith(panel))!;
      const res = await runPanel(A, q, {});
      expect(res.prom).toHaveLength(1);
      return res.prom![0].values.at(-1)!;
    };
    expect(await single(business, 'Plays')).toBe(PROM_WINDOWS * 20 * 3);
    expect(await single(business, 'Revenue')).toBeCloseTo(PROM_WINDOWS * 5 * 9.99, 6);
    expect(await single(security, 'Failed logins')).toBe(PROM_WINDOWS * 2 * 2);
    // A: 1 error per route and window against 100 requests per route and window.
    expect(await single(sla, 'Availability')).toBeCloseTo(1 - 1 / 100, 9);
    // The SQL side of the same store: A's points in the range, as analytics holds them.
    const points = panelQueries(dashboardsOf(A).find((x) => x.view === 'overview')!.dashboard).find((x) => x.panel === 'Points ingested')!;
    const { rows } = await runPanel(A, points, {});
    const expected = dataset(A).reduce((n, s) => n + s.at(0).count, 0) * ((time.toMs - time.fromMs) / WINDOW_MS);
    expect(Number(rows![0]['points'])).toBe(expected);
  });

  it("each reader role sees only its tenant's rows, whatever SQL it sends, and cannot write", async () => {
    for (const t of [A, B]) {
      const reader = readers.get(t)!;
      for (const table of ['analytics.windows_10s', 'analytics.windows_1m', 'analytics.windows_1h']) {
        expect((await reader.query(`select distinct tenant from ${table}`)).rows).toEqual([{ tenant: t }]);
      }
      await expect(reader.query(`delete from analytics.windows_10s where tenant = '${t}'`)).rejects.toThrow(/read-only transaction|permission denied/);
      // Partitions are not granted: the policy on the parent cannot be bypassed through them.
      const part = (await ownerDb.query(`select inhrelid::regclass::text as name from pg_inherits where inhparent = 'analytics.windows_10s'::regclass limit 1`)).rows[0].name;
      await expect(reader.query(`select count(*) from ${part}`)).rejects.toThrow(/permission denied/);
    }
  });

  it(`ran ${DASHBOARD_VIEWS.length * 2} dashboards' panel queries (range ${promDuration(time.toMs - time.fromMs)})`, () => {
    // 33 queries per tenant at the time of writing, more with the variables' values.
    expect(checked).toBeGreaterThanOrEqual(2 * 33);
  });
});
