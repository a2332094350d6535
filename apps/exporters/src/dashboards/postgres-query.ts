import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/dashboard';

/** The type id of Grafana's bundled PostgreSQL datasource (Grafana 10.2+; `postgres` before). */
export const POSTGRES_DATASOURCE_TYPE = 'grafana-postgresql-datasource';

/**
 * A target of Grafana's PostgreSQL datasource in code mode. The foundation SDK ships no builder for
 * it, so this is the one query kind we describe ourselves; the Go validator checks the same fields.
 */
export interface PostgresQuery extends cog.Dataquery {
  refId: string;
  datasource?: DataSourceRef;
  rawSql: string;
  format: 'table' | 'time_series';
  editorMode: 'code';
  rawQuery: true;
}

export class PostgresQueryBuilder implements cog.Builder<PostgresQuery> {
  private readonly internal: PostgresQuery;

  constructor(rawSql: string) {
    this.internal = { refId: 'A', rawSql, format: 'table', editorMode: 'code', rawQuery: true, _implementsDataqueryVariant: () => undefined };
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  datasource(ref: DataSourceRef): this {
    this.internal.datasource = ref;
    return this;
  }

  format(format: PostgresQuery['format']): this {
    this.internal.format = format;
    return this;
  }

  build(): PostgresQuery {
    return this.internal;
  }
}
