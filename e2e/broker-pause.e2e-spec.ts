/**
 * The broker paused (SIGSTOP) for 20 s mid-stream, driven from outside: control, collectors and
 * analytics as processes on the real servers, two tenants sending batches the way a well-behaved
 * client does (each batch with its own Idempotency-Key, retried on 503 after Retry-After). While the
 * broker is stopped, ingest answers 503 within its publish timeout instead of holding the client;
 * afterwards every batch has been acknowledged once, and analytics has counted every point exactly
 * once, per tenant — including the points that reached it 20 s late.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { ControlClient, expectEventually, localSecrets, serviceEnv, ServiceProcess, testInfra } from '@headroom/testing';

const PUBLISH_TIMEOUT_MS = 3_000;
const PAUSE_MS = 20_000;
const SEND_FOR_MS = 40_000;
const POINTS_PER_BATCH = 50;

const run = randomBytes(3).toString('hex');
const TENANTS = [`pause-a-${run}`, `pause-b-${run}`];
const metric = `pause_probe_${run}`;
const secrets = localSecrets();
const slackApiUrl = 'http://127.0.0.1:1/api/';
const control = new ServiceProcess('control', 5070, serviceEnv('control', secrets, { slackApiUrl }), 'pause-control');
const collectors = new ServiceProcess('collectors', 5071, { ...serviceEnv('collectors', secrets, { slackApiUrl }), INGEST_PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS) }, 'pause-collectors');
const analytics = new ServiceProcess('analytics', 5072, { ...serviceEnv('analytics', secrets, { slackApiUrl }), ANALYTICS_GROUP_ID: `pause-analytics-${run}` }, 'pause-analytics');
const admin = new ControlClient(control.url, secrets.adminToken);
const pool = new Pool({ connectionString: testInfra().databaseUrl, max: 2 });
const keys: Record<string, string> = {};

/** The local broker's pid: the test pauses the real broker, not a stand-in. */
function brokerPid(): number {
  const out = execFileSync('pgrep', ['-f', 'kafka.Kafka'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  if (out.length !== 1) throw new Error(`expected one local Kafka broker process, found ${out.length}: this test pauses the broker started by infra:up`);
  return Number(out[0]);
}

interface Answer {
  tenant: string;
  status: number;
  ms: number;
  at: number;
  retryAfter: string | null;
}

async function storedPoints(tenant: string): Promise<number> {
  const { rows } = await pool.query<{ n: string | null }>('select sum(count)::bigint as n from analytics.windows_10s where tenant = $1 and name = $2', [tenant, metric]);
  return Number(rows[0].n ?? 0);
}

beforeAll(async () => {
  await control.start();
  await Promise.all([collectors.start(), analytics.start()]);
  for (const t of TENANTS) {
    await admin.createTenant({ id: t, displayName: t, locale: 'en' });
    keys[t] = await admin.createApiKey(t, ['ingest']);
  }
}, 120_000);

afterAll(async () => {
  const codes = [await collectors.stop(), await analytics.stop(), await control.stop()];
  await pool.end();
  expect(codes).toEqual([0, 0, 0]);
}, 60_000);

describe('a broker paused for 20 s mid-stream', () => {
  it('answers 503 within the publish timeout while paused, and afterwards every acknowledged point is counted once per tenant', async () => {
    const answers: Answer[] = [];
    const batches: Record<string, number> = Object.fromEntries(TENANTS.map((t) => [t, 0]));
    const post = async (tenant: string, body: string, idempotencyKey: string): Promise<Answer> => {
      const t0 = Date.now();
      const res = await fetch(`${collectors.url}/v1/ingest/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys[tenant]}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body,
        // A hang is a failure of its own: the client gives up well after the publish timeout.
        signal: AbortSignal.timeout(PUBLISH_TIMEOUT_MS + 10_000),
      });
      await res.arrayBuffer();
      const a = { tenant, status: res.status, ms: Date.now() - t0, at: t0, retryAfter: res.headers.get('retry-after') };
      answers.push(a);
      return a;
    };

    // Collectors knows both keys once it has read them from the control topic: 400 (empty batch), not 401.
    for (const t of TENANTS) {
      await expectEventually(async () => {
        const res = await fetch(`${collectors.url}/v1/ingest/metrics`, { method: 'POST', headers: { authorization: `Bearer ${keys[t]}`, 'content-type': 'application/json' }, body: '{"points":[]}' });
        expect(res.status).toBe(400);
      });
    }
    const started = Date.now();
    let paused: { from: number; to: number } | undefined;
    const pid = brokerPid();
    const pauser = (async () => {
      await new Promise((r) => setTimeout(r, 8_000));
      process.kill(pid, 'SIGSTOP');
      paused = { from: Date.now(), to: 0 };
      try {
        await new Promise((r) => setTimeout(r, PAUSE_MS));
      } finally {
        process.kill(pid, 'SIGCONT');
        paused!.to = Date.now();
      }
    })();

    await Promise.all(
      TENANTS.map(async (tenant) => {
        for (let i = 0; Date.now() - started < SEND_FOR_MS; i++) {
          const at = Date.now();
          const points = Array.from({ length: POINTS_PER_BATCH }, (_, k) => ({ name: metric, labels: { tenant_series: String(k % 5) }, value: i + k, timestamp: at - k }));
          const body = JSON.stringify({ points });
          // Until this batch is acknowledged: the same body, the same key.
          for (let attempt = 0; ; attempt++) {
            const a = await post(tenant, body, `${run}-${tenant}-${i}`);
            if (a.status === 202) break;
            expect([503, 409]).toContain(a.status);
            if (attempt > 200) throw new Error(`batch ${i} of ${tenant} never acknowledged`);
            await new Promise((r) => setTimeout(r, Math.min(1_000, Number(a.retryAfter ?? 1) * 1000)));
          }
          batches[tenant]++;
          await new Promise((r) => setTimeout(r, 200));
        }
      }),
    );
    await pauser;

    // No request was held for the broker's own timeout: every answer came within the publish timeout (+ slack).
    const slowest = Math.max(...answers.map((a) => a.ms));
    expect(slowest).toBeLessThan(PUBLISH_TIMEOUT_MS + 2_500);
    // While the broker was stopped, each tenant was told to come back later: 503 + Retry-After for the
    // batch caught by the pause (a request begun just before it counts too), then 409 + Retry-After
    // while that batch's send is in doubt and its Idempotency-Key stays claimed.
    for (const t of TENANTS) {
      const during = answers.filter((a) => a.tenant === t && a.at >= paused!.from && a.at < paused!.to - PUBLISH_TIMEOUT_MS);
      expect(during.length).toBeGreaterThan(0);
      expect(during.every((a) => (a.status === 503 || a.status === 409) && a.retryAfter !== null)).toBe(true);
      const around = answers.filter((a) => a.tenant === t && a.at >= paused!.from - PUBLISH_TIMEOUT_MS && a.at < paused!.to);
      expect(around.some((a) => a.status === 503)).toBe(true);
    }
    process.stdout.write(`${JSON.stringify({ e2e: 'broker-pause', batches, answers: answers.length, status503: answers.filter((a) => a.status === 503).length, slowestMs: slowest })}\n`);

    // Every acknowledged point is counted, once, per tenant — also those that reached analytics 20 s late.
    for (const t of TENANTS) expect(batches[t]).toBeGreaterThan(20);
    await expectEventually(
      async () => {
        for (const t of TENANTS) expect(await storedPoints(t)).toBe(batches[t] * POINTS_PER_BATCH);
      },
      { timeoutMs: 90_000, intervalMs: 1_000 },
    );
    // And stays so (nothing arrives twice later, e.g. an in-doubt batch replayed).
    await new Promise((r) => setTimeout(r, 12_000));
    for (const t of TENANTS) expect(await storedPoints(t)).toBe(batches[t] * POINTS_PER_BATCH);
  }, 240_000);
});
