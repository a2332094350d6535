/**
 * `npm run fuzz:api`: schemathesis (from PyPI, pinned, in a cached venv) against each service's
 * GET /openapi.json, with a valid credential of a fresh tenant, on the local stack (infra already up:
 * `npm run infra:up`). Checks: no 5xx, and every answer within the document (status, content type,
 * body schema, headers). Prints a JSON summary and writes it, with schemathesis's own reports, under
 * tmp/fuzz/. Exit code 1 when any check failed.
 *
 * Options: --max-examples N (default 25 per operation), --only <service>[,<service>…], --seed N.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ControlClient, localSecrets, ROOT, serviceEnv, SERVICES, ServiceProcess, SlackMock, type ServiceName } from '@headroom/testing';

const SCHEMATHESIS_VERSION = '4.32.5';
const PORTS: Record<ServiceName, number> = { control: 5701, collectors: 5702, analytics: 5703, alerting: 5704, exporters: 5705 };
const SLACK_PORT = 5710;
const OUT_DIR = join(ROOT, 'tmp', 'fuzz');
const CHECKS = ['not_a_server_error', 'status_code_conformance', 'content_type_conformance', 'response_schema_conformance', 'response_headers_conformance'];
/**
 * Left out: erasing a tenant the fuzzer names could shred a tenant of another run on this machine's
 * shared PostgreSQL and control topic (ids like `a` are generated first). Its input validation is
 * the same TenantParamsSchema as the routes fuzzed here.
 */
const EXCLUDED_OPERATIONS = ['TenantsController.erase'];

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};

/** The venv under the user cache dir, created and filled once per pinned version. */
function schemathesis(): string {
  const dir = join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'headroom', `schemathesis-${SCHEMATHESIS_VERSION}`);
  const bin = join(dir, 'bin', 'schemathesis');
  if (existsSync(bin)) return bin;
  process.stdout.write(`installing schemathesis ${SCHEMATHESIS_VERSION} into ${dir} ...\n`);
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
  };
  rmSync(dir, { recursive: true, force: true });
  run('python3', ['-m', 'venv', dir]);
  run(join(dir, 'bin', 'pip'), ['install', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`]);
  return bin;
}

interface ServiceSummary {
  operations: number;
  requests: number;
  failures: Record<string, number>;
  /** Distinct problems as schemathesis groups them: check, operation, status and a reproduction. */
  findings: { check: string; operation: string; status?: number; message: string; request?: string; scenario?: string }[];
  exitCode: number | null;
}

async function runSchemathesis(bin: string, service: ServiceName, url: string, credential: string, maxExamples: number, seed: string): Promise<ServiceSummary> {
  const dir = join(OUT_DIR, service);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const ndjson = join(dir, 'events.ndjson');
  const args = [
    'run',
    `${url}/openapi.json`,
    '--checks',
    CHECKS.join(','),
    '--max-examples',
    String(maxExamples),
    '--seed',
    seed,
    '--workers',
    '1',
    '--phases',
    'examples,coverage,fuzzing',
    '--header',
    `Authorization: Bearer ${credential}`,
    '--request-timeout',
    '20',
    '--continue-on-failure',
    '--report',
    'junit,ndjson',
    '--report-junit-path',
    join(dir, 'junit.xml'),
    '--report-ndjson-path',
    ndjson,
    '--no-color',
    ...EXCLUDED_OPERATIONS.flatMap((id) => ['--exclude-operation-id', id]),
  ];
  const exitCode = await new Promise<number | null>((resolve) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    child.on('exit', (code) => {
      writeFileSync(join(dir, 'output.txt'), Buffer.concat(out));
      resolve(code);
    });
  });
  return { ...summarise(ndjson), exitCode };
}

/** The parts of schemathesis's ndjson `ScenarioFinished.recorder` read here. */
interface Recorder {
  label?: string;
  cases?: Record<string, { value?: { meta?: { phase?: { name?: string; data?: { description?: string } } } } }>;
  checks?: Record<string, { name: string; status: string; failure_info?: { failure?: { title?: string; message?: string } } | null }[]>;
  interactions?: Record<string, { request?: { method: string; uri: string; body?: { string?: string; $base64?: string } }; response?: { status_code?: number } }>;
}

const decode = (b: { string?: string; $base64?: string }) => b.string ?? (b.$base64 ? Buffer.from(b.$base64, 'base64').toString('utf8') : '');

/** The run's figures from schemathesis's event stream (one JSON event per line). */
function summarise(ndjsonPath: string): Omit<ServiceSummary, 'exitCode'> {
  const operations = new Set<string>();
  let requests = 0;
  const failures: Record<string, number> = {};
  const findings: ServiceSummary['findings'] = [];
  const seen = new Set<string>();
  if (!existsSync(ndjsonPath)) return { operations: 0, requests, failures: { schemathesis_did_not_run: 1 }, findings };
  for (const line of readFileSync(ndjsonPath, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as Record<string, Record<string, unknown>>;
    const scenario = event['ScenarioFinished'];
    if (!scenario) continue;
    const recorder = scenario['recorder'] as Recorder | undefined;
    const label = recorder?.label ?? '';
    if (label) operations.add(label);
    requests += Object.keys(recorder?.interactions ?? {}).length;
    for (const [caseId, checks] of Object.entries(recorder?.checks ?? {})) {
      for (const check of checks) {
        if (check.status !== 'failure') continue;
        failures[check.name] = (failures[check.name] ?? 0) + 1;
        const interaction = recorder?.interactions?.[caseId] ?? {};
        const meta = recorder?.cases?.[caseId]?.value?.meta;
        const message = [check.failure_info?.failure?.title, check.failure_info?.failure?.message].filter(Boolean).join(': ');
        const key = `${check.name} ${label} ${interaction.response?.status_code} ${check.failure_info?.failure?.title}`;
        if (seen.has(key)) continue;
        seen.add(key);
        findings.push({
          check: check.name,
          operation: label,
          status: interaction.response?.status_code,
          message: message.slice(0, 400),
          request: interaction.request ? `${interaction.request.method} ${interaction.request.uri}${interaction.request.body ? ` body ${decode(interaction.request.body).slice(0, 300)}` : ''}` : undefined,
          scenario: meta?.phase?.data?.description ?? meta?.phase?.name,
        });
      }
    }
  }
  return { operations: operations.size, requests, failures, findings };
}

async function main() {
  const maxExamples = Number(arg('max-examples') ?? 25);
  const seed = arg('seed') ?? String(Date.now() % 1_000_000);
  const only = arg('only')?.split(',');
  const bin = schemathesis();
  mkdirSync(OUT_DIR, { recursive: true });

  const secrets = localSecrets();
  const slack = new SlackMock(secrets.slackToken);
  const slackUrl = await slack.start(SLACK_PORT);
  const run = randomBytes(4).toString('hex');
  const env = (name: ServiceName) => ({
    ...serviceEnv(name, secrets, { slackApiUrl: slackUrl, groupPrefix: `fuzz-${run}`, logLevel: 'warn' }),
    // Without it Slack's interactivity route answers 503 not_configured: configured, its signature checks get fuzzed.
    ...(name === 'alerting' ? { SLACK_SIGNING_SECRET: randomBytes(16).toString('hex') } : {}),
  });
  const services = SERVICES.map((name) => new ServiceProcess(name, PORTS[name], env(name), name, join(OUT_DIR, 'logs')));
  const started = Date.now();
  const summary: Record<string, ServiceSummary> = {};
  try {
    process.stdout.write('starting services ...\n');
    await services[0].start();
    await Promise.all(services.slice(1).map((s) => s.start()));

    const control = new ControlClient(services[0].url, secrets.adminToken);
    const tenant = `fuzz-${run}`;
    await control.createTenant({ id: tenant, displayName: 'Fuzzing run' });
    const credentials: Record<ServiceName, string> = {
      control: secrets.adminToken,
      collectors: await control.createApiKey(tenant, ['ingest']),
      analytics: await control.createApiKey(tenant, ['read']),
      alerting: await control.createApiKey(tenant, ['read', 'admin']),
      exporters: await control.createApiKey(tenant, ['read']),
    };
    // The services learn the tenant and its keys from the control topic.
    await new Promise((r) => setTimeout(r, 3000));

    for (const s of services) {
      if (only && !only.includes(s.name)) continue;
      process.stdout.write(`fuzzing ${s.name} (${maxExamples} examples per operation, seed ${seed}) ...\n`);
      const t0 = Date.now();
      summary[s.name] = await runSchemathesis(bin, s.name as ServiceName, s.url, credentials[s.name as ServiceName], maxExamples, seed);
      process.stdout.write(`  ${s.name}: ${summary[s.name].requests} requests, failures ${JSON.stringify(summary[s.name].failures)} in ${Math.round((Date.now() - t0) / 1000)} s\n`);
    }
  } finally {
    await Promise.all(services.map((s) => s.stop().catch(() => null)));
    await slack.stop();
  }
  const result = {
    schemathesis: SCHEMATHESIS_VERSION,
    seed: Number(seed),
    maxExamples,
    checks: CHECKS,
    excludedOperations: EXCLUDED_OPERATIONS,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    totals: {
      operations: Object.values(summary).reduce((n, s) => n + s.operations, 0),
      requests: Object.values(summary).reduce((n, s) => n + s.requests, 0),
      failures: Object.values(summary).reduce((n, s) => n + Object.values(s.failures).reduce((a, b) => a + b, 0), 0),
    },
    services: summary,
  };
  writeFileSync(join(OUT_DIR, 'summary.json'), JSON.stringify(result, null, 2));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exit(result.totals.failures === 0 ? 0 : 1);
}

main().catch((err) => {
  process.stderr.write(`fuzz:api failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(2);
});
