import { elasticsearchSinkType } from './elasticsearch/elasticsearch.sink';
import { influxdbSinkType } from './influxdb/influxdb.sink';
import { remoteWriteSinkType } from './remote-write/remote-write.sink';
import type { ExportSink, SinkType } from './sink';

/** Every sink Headroom can export to. Adding a sink: its folder, and one line here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each entry keeps its own Config type; the list only needs the shape.
export const SINK_TYPES: readonly SinkType<any>[] = [remoteWriteSinkType, influxdbSinkType, elasticsearchSinkType];

/** One sink enabled by the deployment, validated, ready to create. */
export interface ConfiguredSink {
  type: string;
  /** From `EXPORT_<TYPE>_TENANTS` (comma-separated): only these tenants are exported; undefined: all. */
  tenants: string[] | undefined;
  create(): ExportSink;
}

export interface SinkConfigProblem {
  /** The sink's environment prefix and config path, e.g. `EXPORT_REMOTE_WRITE_… url`. */
  key: string;
  message: string;
}

/** `remote_write` → `EXPORT_REMOTE_WRITE_`: the prefix of every variable of that sink. */
export function envPrefix(type: string): string {
  return `EXPORT_${type.toUpperCase()}_`;
}

/**
 * The sinks this deployment enables (a sink's `fromEnv` answers undefined when its variables are
 * absent), each merged over its defaults and validated; every problem of every sink is listed.
 */
export function configureSinks(env: Record<string, string | undefined>, types: readonly SinkType<unknown>[] = SINK_TYPES): { sinks: ConfiguredSink[]; problems: SinkConfigProblem[] } {
  const sinks: ConfiguredSink[] = [];
  const problems: SinkConfigProblem[] = [];
  for (const type of types) {
    const prefix = envPrefix(type.type);
    let partial: unknown;
    try {
      partial = type.fromEnv(env);
    } catch (err) {
      problems.push({ key: `${prefix}*`, message: err instanceof Error ? err.message : String(err) });
      continue;
    }
    if (partial === undefined) continue;
    const config = { ...(type.defaultConfig() as object), ...(partial as object) };
    const found = type.validate(config);
    for (const p of found) problems.push({ key: `${prefix}* (${type.type}.${p.path})`, message: p.message });
    const rawTenants = env[`${prefix}TENANTS`];
    const tenants = rawTenants ? rawTenants.split(',').map((t) => t.trim()).filter(Boolean) : undefined;
    if (found.length === 0) sinks.push({ type: type.type, tenants, create: () => type.create(config) });
  }
  return { sinks, problems };
}
