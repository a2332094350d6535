/**
 * The whole pipeline, driven from outside on the real servers: five service processes, real Kafka,
 * PostgreSQL and Redis, and a local Slack-compatible server behind the real @slack/web-api client.
 */
import { randomBytes } from 'node:crypto';
import { DlqRecordSchema, Headers, Topics } from '@headroom/contracts';
import { createKafkaClient, produceRawRecords, readRawRecords } from '@headroom/kafka';
import { ControlClient, expectEventually, localSecrets, serviceEnv, ServiceProcess, SERVICES, silentLogger, SlackMock, testInfra, type ServiceName } from '@headroom/testing';


const PORTS: Record<ServiceName, number> = { control: 5050, collectors: 5010, analytics: 5020, alerting: 5030, exporters: 5040 };
const run = randomBytes(3).toString('hex');
const A = `e2e-a-${run}`;
const B = `e2e-b-${run}`;
const channel = (t: string) => `#oncall-${t}`;

const secrets = localSecrets();
const slack = new SlackMock(secrets.slackToken);
const services: ServiceProcess[] = [];
const control = new ControlClient(`http://127.0.0.1:${PORTS.control}`, secrets.adminToken);
const keys: Record<string, { ingest: string; read: string }> = {};

async function ingest(tenant: string, values: number[], route = '/play') {
  const now = Date.now();
  const res = await fetch(`http://127.0.0.1:${PORTS.collectors}/v1/ingest/metrics`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys[tenant].ingest}`, 'content-type': 'application/json' },
    body: JSON.stringify({ points: values.map((value, i) => ({ name: 'api_latency_ms', labels: { route }, value, timestamp: now - i })) }),
  });
  expect(res.status).toBe(202);
}

async function scrape(tenant: string, query = ''): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${PORTS.exporters}/v1/prometheus/metrics${query}`, { headers: { authorization: `Bearer ${keys[tenant].read}` } });
  expect(res.status).toBe(200);
  return res.text();
}

beforeAll(async () => {
  const slackApiUrl = await slack.start();
  for (const name of SERVICES) {
    services.push(new ServiceProcess(name, PORTS[name], serviceEnv(name, secrets, { slackApiUrl, groupPrefix: 'e2e' }), `e2e-${name}`));
  }
  // control first: the others become ready only once they have read the control topic.
  await services[0].start();
  await Promise.all(services.slice(1).map((s) => s.start()));
  for (const t of [A, B]) {
    await control.createTenant({
      id: t,
      displayName: `Tenant ${t}`,
      locale: t === A ? 'fr' : 'en',
      alerting: { slackChannel: channel(t), rules: [{ id: 'api-latency-p95', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'critical' }] },
    });
    keys[t] = { ingest: await control.createApiKey(t, ['ingest']), read: await control.createApiKey(t, ['read']) };
  }
}, 180_000);

afterAll(async () => {
  const codes = await Promise.all(services.map((s) => s.stop()));
  await slack.stop();
  // Every service shut down cleanly on SIGTERM (in-flight work finished, offsets committed).
  expect(codes).toEqual(services.map(() => 0));
}, 60_000);

describe('pipeline end to end', () => {
  it('rejects a bad batch with the field path, and a missing key with 401', async () => {
    await expectEventually(async () => {
      const res = await fetch(`http://127.0.0.1:${PORTS.collectors}/v1/ingest/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys[A].ingest}`, 'content-type': 'application/json' },
        body: JSON.stringify({ points: [{ name: 'api_latency_ms', value: 'slow', timestamp: Date.now() }] }),
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { issues: { path: string }[] };
      expect(body.issues.map((i) => i.path)).toContain('points.0.value');
    });
    const anon = await fetch(`http://127.0.0.1:${PORTS.collectors}/v1/ingest/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"points":[]}' });
    expect(anon.status).toBe(401);
  });

  it("pages tenant A's channel once when A's p95 latency crosses 250 ms, shows A's series to A only, and resolves", async () => {
    // B is healthy and sends all along; A starts slow.
    const sentAt = Date.now();
    let firing: (typeof slack.messages)[number] | undefined;
    while (!firing && Date.now() - sentAt < 90_000) {
      await ingest(A, [310, 320, 330, 340, 350]);
      await ingest(B, [80, 90, 100]);
      firing = slack.messagesFor(channel(A))[0];
      if (!firing) await new Promise((r) => setTimeout(r, 500));
    }
    expect(firing).toBeDefined();
    const eventToSlackMs = firing!.receivedAt - sentAt;
    process.stdout.write(`${JSON.stringify({ e2e: 'event-to-slack', ms: eventToSlackMs })}\n`);
    expect(`${firing!.text} ${JSON.stringify(firing!.blocks)}`).toMatch(/api_latency_ms/);

    // A's endpoint has A's series; B's has B's, and nothing of A's values; a ?tenant= override is ignored.
    await expectEventually(async () => {
      const textA = await scrape(A);
      expect(textA).toMatch(/api_latency_ms\{[^}]*quantile="0.95"[^}]*\} 3[0-9]{2}/);
      const textB = await scrape(B, `?tenant=${A}`);
      expect(textB).toMatch(/api_latency_ms/);
      expect(textB).not.toMatch(/ 3[1-5]0(\n|$)/m);
      expect(textB).not.toContain(A);
    }, { timeoutMs: 30_000 });
    expect(slack.messagesFor(channel(B))).toEqual([]);

    // A recovers: one resolved message follows, and still exactly one firing message.
    const recoverFrom = Date.now();
    let resolved: (typeof slack.messages)[number] | undefined;
    while (!resolved && Date.now() - recoverFrom < 90_000) {
      await ingest(A, [100, 110, 120]);
      resolved = slack.messagesFor(channel(A)).find((m) => m !== firing);
      if (!resolved) await new Promise((r) => setTimeout(r, 500));
    }
    expect(resolved).toBeDefined();
    expect(slack.messagesFor(channel(A))).toHaveLength(2);
    expect(slack.messagesFor(channel(B))).toEqual([]);
  }, 240_000);

  it('sends a record re-labelled to claim tenant B to the DLQ instead of processing it', async () => {
    const kafka = createKafkaClient({ brokers: testInfra().brokers, clientId: 'e2e', logger: silentLogger() });
    const [original] = (
      await readRawRecords(kafka, Topics.telemetry.name, { filter: (r) => r.headers[Headers.tenant] === A, until: (rs) => rs.length > 0, timeoutMs: 30_000 })
    );
    expect(original).toBeDefined();
    const marker = `forged-${run}`;
    await produceRawRecords(kafka, Topics.telemetry.name, [
      { key: B, value: original.value, headers: { ...original.headers, [Headers.tenant]: B, [Headers.traceparent]: `00-${'f'.repeat(32)}-${'e'.repeat(16)}-01`, 'x-e2e': marker } },
    ]);
    const dlq = await readRawRecords(kafka, Topics.dlq.name, {
      filter: (r) => r.value?.includes(marker) ?? false,
      until: (rs) => rs.length > 0,
      timeoutMs: 60_000,
    });
    const entry = dlq.map((r) => DlqRecordSchema.parse(JSON.parse(r.value!.toString()))).find((d) => d.source.headers['x-e2e'] === marker);
    expect(entry).toMatchObject({ service: 'analytics', code: 'integrity', source: { topic: Topics.telemetry.name, key: B } });
    // ...and B saw nothing of it: no page, no extra series.
    expect(slack.messagesFor(channel(B))).toEqual([]);
  }, 120_000);
});
