/**
 * Edge validation throughput, printed as JSON. Single-threaded, so points/s is per core.
 *   npm run bench:edge
 * Typical points: 3–5 labels, batches of 1,000. Measures the hand-written validator on parsed
 * objects, the same with JSON.parse of the body, the contract schemas built on it, and the zod
 * object schema it replaced (rebuilt here as it was, for the comparison).
 */
import { cpus } from 'node:os';
import { z } from 'zod';
import { DEFAULT_POINT_LIMITS, IngestBatchSchema, TelemetryBatchSchema, validateIngestBatch, validatePoints } from '@headroom/contracts';

const BATCH = 1_000;
const NOW = Date.now();

function typicalBatch(seed: number): { points: object[] } {
  const routes = ['/play', '/search', '/login', '/playlist/add', '/recommendations'];
  const regions = ['eu-west-1', 'us-east-1', 'ap-south-1'];
  return {
    points: Array.from({ length: BATCH }, (_, i) => {
      const k = seed * BATCH + i;
      const labels: Record<string, string> = { route: routes[k % 5], region: regions[k % 3], status: String(200 + (k % 4)) };
      if (k % 3 !== 0) labels['instance'] = `api-${k % 17}`;
      if (k % 3 === 2) labels['version'] = '2.14.1';
      return { name: k % 2 ? 'api_latency_ms' : 'http_requests_total', labels, value: (k % 997) * 0.37, timestamp: NOW - (k % 5000), unit: 'ms' };
    }),
  };
}

/** The zod schema the validator replaced (libs/contracts before issue 6). */
const LegacyPoint = z.object({
  name: z.string().max(200).regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/),
  labels: z
    .record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/).refine((k) => !k.startsWith('__')), z.string().max(1024))
    .refine((l) => Object.keys(l).length <= 32)
    .default({}),
  value: z.number().finite(),
  timestamp: z.number().int().min(946_684_800_000).max(4_102_444_800_000),
  unit: z.string().max(32).optional(),
});
const LegacyBatch = z.object({ points: z.array(LegacyPoint).max(10_000).default([]), events: z.array(z.unknown()).default([]) }).strict();

function measure(label: string, batches: number, run: (i: number) => void): { pointsPerSecond: number; nsPerPoint: number } {
  for (let i = 0; i < Math.min(batches, 50); i++) run(i); // warm-up
  const start = process.hrtime.bigint();
  for (let i = 0; i < batches; i++) run(i);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const pointsPerSecond = Math.round((batches * BATCH) / seconds);
  void label;
  return { pointsPerSecond, nsPerPoint: Math.round(1e9 / pointsPerSecond) };
}

function main(): void {
  const distinct = 64;
  const parsed = Array.from({ length: distinct }, (_, i) => typicalBatch(i));
  const bodies = parsed.map((b) => JSON.stringify(b));
  const rules = { limits: DEFAULT_POINT_LIMITS, now: NOW, tenant: 'bench' };
  let sink = 0;
  const check = (ok: boolean) => {
    if (!ok) throw new Error('a typical batch was refused');
    sink++;
  };

  const validator = measure('validatePoints', 3000, (i) => check(validatePoints(parsed[i % distinct].points, { ...rules, unknownFields: 'refuse' }).points !== undefined));
  const edgeBatch = measure('validateIngestBatch', 3000, (i) => check(validateIngestBatch(parsed[i % distinct], rules).ok));
  const withParse = measure('JSON.parse + validateIngestBatch', 1000, (i) => check(validateIngestBatch(JSON.parse(bodies[i % distinct]), rules).ok));
  const parseOnly = measure('JSON.parse', 1000, (i) => check(JSON.parse(bodies[i % distinct]) !== null));
  const ingestSchema = measure('IngestBatchSchema (zod wrapper)', 2000, (i) => check(IngestBatchSchema.safeParse(parsed[i % distinct]).success));
  const telemetry = parsed.map((b, i) => ({ batchId: `b${i}`, source: 'http', receivedAt: NOW, points: b.points, events: [] }));
  const telemetrySchema = measure('TelemetryBatchSchema', 2000, (i) => check(TelemetryBatchSchema.safeParse(telemetry[i % distinct]).success));
  const legacy = measure('zod (replaced)', 100, (i) => check(LegacyBatch.safeParse(parsed[i % distinct]).success));
  const legacyWithParse = measure('JSON.parse + zod (replaced)', 100, (i) => check(LegacyBatch.safeParse(JSON.parse(bodies[i % distinct])).success));

  const target = 1_000_000;
  console.log(
    JSON.stringify(
      {
        machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
        batchSize: BATCH,
        labelsPerPoint: '3-5',
        bodyBytesPerPoint: Math.round(Buffer.byteLength(bodies[0]) / BATCH),
        pointsPerSecondPerCore: {
          validator: validator.pointsPerSecond,
          validateIngestBatch: edgeBatch.pointsPerSecond,
          jsonParsePlusValidateIngestBatch: withParse.pointsPerSecond,
          jsonParseOnly: parseOnly.pointsPerSecond,
          ingestBatchSchemaZodWrapper: ingestSchema.pointsPerSecond,
          telemetryBatchSchema: telemetrySchema.pointsPerSecond,
          replacedZodSchema: legacy.pointsPerSecond,
          jsonParsePlusReplacedZodSchema: legacyWithParse.pointsPerSecond,
        },
        nsPerPoint: { validator: validator.nsPerPoint, validateIngestBatch: edgeBatch.nsPerPoint, replacedZodSchema: legacy.nsPerPoint },
        speedupOverZod: Math.round((edgeBatch.pointsPerSecond / legacy.pointsPerSecond) * 10) / 10,
        target: { validatorPointsPerSecondPerCore: target, met: validator.pointsPerSecond >= target && edgeBatch.pointsPerSecond >= target },
        batchesChecked: sink,
      },
      null,
      2,
    ),
  );
}

main();
