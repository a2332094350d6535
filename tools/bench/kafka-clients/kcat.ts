/**
 * The physical limit: kcat (librdkafka in C, Debian's package) producing the same record bytes and
 * keys to the same topic, fed through its stdin for `seconds`; idempotent, acks=all, murmur2.
 * Records are split by kcat on random multi-byte delimiters checked absent from every record.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { RecordSet } from './records';

export interface KcatResult {
  version: string;
  settings: Record<string, string | number | boolean>;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  mbPerSecond: number;
  /** user + system CPU of the kcat process. */
  cpuMsPer1000Records: number;
}

/** Installs kcat with apt when missing; returns its version line. */
export function ensureKcat(): string {
  if (spawnSync('sh', ['-c', 'command -v kcat']).status !== 0) {
    const apt = spawnSync('sh', ['-c', 'apt-get install -y -q kcat >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q kcat >/dev/null 2>&1)']);
    if (apt.status !== 0) throw new Error('kcat is not installed and apt-get could not install it');
  }
  const pkg = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'kcat'], { encoding: 'utf8' }).stdout.trim();
  const lib = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'librdkafka1'], { encoding: 'utf8' }).stdout.trim();
  return `kcat ${pkg || '?'} (librdkafka ${lib || '?'})`;
}

function delimiterAbsentFrom(set: RecordSet): Buffer {
  for (;;) {
    const d = randomBytes(12);
    if (set.records.every((r) => r.value.indexOf(d) < 0 && !r.key.includes(d.toString('latin1')))) return d;
  }
}

const escape = (b: Buffer) => [...b].map((x) => `\\x${x.toString(16).padStart(2, '0')}`).join('');

export async function kcatProduce(set: RecordSet, brokers: string, topic: string, seconds: number, lingerMs: number): Promise<KcatResult> {
  const version = ensureKcat();
  const msgDelim = delimiterAbsentFrom(set);
  const keyDelim = delimiterAbsentFrom(set);
  const settings = { acks: 'all', 'enable.idempotence': true, 'linger.ms': lingerMs, partitioner: 'murmur2_random', 'compression.codec': 'none' };
  const headers = Object.entries(set.records[0].headers).flatMap(([k, v]) => ['-H', `${k}=${v}`]);
  const args = ['-P', '-b', brokers, '-t', topic, '-D', escape(msgDelim), '-K', escape(keyDelim), ...headers];
  for (const [k, v] of Object.entries(settings)) args.push('-X', `${k}=${v}`);
  args.push('-X', `message.max.bytes=${8 * 1024 * 1024}`);
  // bash's `time` reports kcat's own CPU (user, system) on stderr once it has delivered everything.
  const child = spawn('bash', ['-c', 'TIMEFORMAT="KCAT_TIME %R %U %S"; time kcat "$@"', 'kcat', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));
  const frames = set.records.map((r) => Buffer.concat([Buffer.from(r.key), keyDelim, r.value, msgDelim]));
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    if (!child.stdin.write(frames[n % frames.length])) await new Promise((r) => child.stdin.once('drain', r));
    n++;
  }
  child.stdin.end();
  const code = await exited;
  const wall = (performance.now() - t0) / 1000;
  const m = /KCAT_TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr);
  if (code !== 0 || !m) throw new Error(`kcat exited ${code}: ${stderr.slice(-500)}`);
  const failed = /Failed to produce|Delivery failed/i.test(stderr);
  if (failed) throw new Error(`kcat reported failed deliveries: ${stderr.slice(-500)}`);
  const cpu = Number(m[2]) + Number(m[3]);
  const bytes = set.records.reduce((s, r) => s + r.bytes, 0) / set.records.length;
  return {
    version,
    settings,
    records: n,
    seconds: Math.round(wall * 100) / 100,
    recordsPerSecond: Math.round(n / wall),
    mbPerSecond: Math.round(((n * bytes) / wall / 1e6) * 10) / 10,
    cpuMsPer1000Records: Math.round(((cpu * 1e6) / n) * 10) / 10,
  };
}
