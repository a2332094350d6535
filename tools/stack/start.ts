/**
 * `npm start`: the whole pipeline on this machine — real Kafka, PostgreSQL and Redis (infra:up), the
 * five services, a local Slack-compatible server, and demo traffic for three tenants — then prints
 * where to look. Ctrl-C (or `--for <seconds>`) stops the services cleanly; the servers stay up.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ControlClient, localSecrets, localStateDir, ROOT, serviceEnv, SERVICES, ServiceProcess, SlackMock, type ServiceName } from '@headroom/testing';
import { demoBatch, DEMO_TENANTS } from './demo-traffic';

const PORTS: Record<ServiceName, number> = { collectors: 4010, analytics: 4020, alerting: 4030, exporters: 4040, control: 4050 };
const SLACK_PORT = 4099;
const STACK_DIR = join(ROOT, 'tmp', 'stack');
const LOG_DIR = join(STACK_DIR, 'logs');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const runFor = Number(arg('for') ?? 0);
  mkdirSync(LOG_DIR, { recursive: true });
  const infra = spawnSync('npm', ['run', '-s', 'infra:up'], { cwd: ROOT, stdio: 'inherit' });
  if (infra.status !== 0) throw new Error('infra:up failed (see tmp/infra/logs)');

  const secrets = localSecrets();
  const slack = new SlackMock(secrets.slackToken);
  const slackUrl = await slack.start(SLACK_PORT);
  const slackLog = join(STACK_DIR, 'slack-messages.log');

  const services = SERVICES.map((name) => new ServiceProcess(name, PORTS[name], serviceEnv(name, secrets, { slackApiUrl: slackUrl }), name, LOG_DIR));
  process.stdout.write('starting services ...\n');
  await services[0].start();
  await Promise.all(services.slice(1).map((s) => s.start()));

  const control = new ControlClient(`http://127.0.0.1:${PORTS.control}`, secrets.adminToken);
  const keysFile = join(localStateDir(), 'demo-keys.json');
  const keys: Record<string, { ingest: string; read: string }> = existsSync(keysFile) ? JSON.parse(readFileSync(keysFile, 'utf8')) : {};
  for (const t of DEMO_TENANTS) {
    const created = await control.createTenant({
      id: t.id,
      displayName: t.displayName,
      locale: t.locale,
      alerting: { slackChannel: `#oncall-${t.id}`, rules: [{ id: 'api-latency-p95', metric: 'api_latency_ms', stat: 'p95', op: '>', threshold: 250, severity: 'critical' }] },
    });
    if (created.status === 201 || !keys[t.id]) keys[t.id] = { ingest: await control.createApiKey(t.id, ['ingest']), read: await control.createApiKey(t.id, ['read']) };
  }
  writeFileSync(keysFile, JSON.stringify(keys, null, 2), { mode: 0o600 });

  const started = Date.now();
  let sent = 0;
  let failed = 0;
  const traffic = setInterval(() => {
    const now = Date.now();
    for (const t of DEMO_TENANTS) {
      fetch(`http://127.0.0.1:${PORTS.collectors}/v1/ingest/metrics`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys[t.id].ingest}`, 'content-type': 'application/json' },
        body: JSON.stringify(demoBatch(t, now, Math.floor((now - started) / 1000))),
      })
        .then((r) => (r.status === 202 ? sent++ : failed++))
        .catch(() => failed++);
    }
  }, 1000);
  let seen = 0;
  const slackWatch = setInterval(() => {
    for (const m of slack.messages.slice(seen)) {
      const line = `slack ${m.channel}: ${m.text}`;
      process.stdout.write(`${line}\n`);
      appendFileSync(slackLog, `${new Date(m.receivedAt).toISOString()} ${line}\n`);
    }
    seen = slack.messages.length;
  }, 500);

  const first = DEMO_TENANTS[0];
  process.stdout.write(
    [
      '',
      'Headroom is running. Where to look:',
      `  services     ${SERVICES.map((s) => `${s} http://127.0.0.1:${PORTS[s]}`).join(', ')}`,
      `  health       curl http://127.0.0.1:${PORTS.analytics}/readyz   (and /healthz on every service)`,
      `  own metrics  curl -H 'Authorization: Bearer ${secrets.metricsToken}' http://127.0.0.1:${PORTS.analytics}/metrics   (HEADROOM_METRICS_TOKEN)`,
      `  tenant view  curl -H 'Authorization: Bearer ${keys[first.id].read}' http://127.0.0.1:${PORTS.exporters}/v1/prometheus/metrics`,
      `  aggregates   psql postgres://headroom:headroom@127.0.0.1:5432/headroom -c 'select tenant,name,labels,count,p95 from analytics.windows_10s order by window_start desc limit 10'`,
      `  alerts       ${first.id} has a latency incident every ${first.incidentEverySeconds}s: Slack messages print here and go to ${slackLog}`,
      `  logs         ${LOG_DIR} (services), tmp/infra/logs (Kafka, PostgreSQL, Redis)`,
      `  tenant keys  ${keysFile}; admin token in ${join(localStateDir(), 'secrets.json')}`,
      runFor ? `  stopping by itself after ${runFor}s` : '  Ctrl-C stops the services (the servers stay up: npm run infra:down)',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(traffic);
    clearInterval(slackWatch);
    const codes = await Promise.all(services.map((s) => s.stop()));
    await slack.stop();
    process.stdout.write(`stopped: ${SERVICES.map((s, i) => `${s}=${codes[i]}`).join(' ')}; demo batches accepted ${sent}, failed ${failed}\n`);
    process.exit(codes.every((c) => c === 0) && failed === 0 ? 0 : 1);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  if (runFor > 0) setTimeout(() => void stop(), runFor * 1000);
}

main().catch((err) => {
  process.stderr.write(`npm start failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
