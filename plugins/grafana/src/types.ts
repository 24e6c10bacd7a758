import type { DataSourceJsonData } from '@grafana/data';
import type { DataQuery } from '@grafana/schema';

/** Query types; they match the backend's pkg/query Type constants. */
export type QueryType = 'builder' | 'sql' | 'jobs' | 'health' | 'live';

/** Formats of a query's rows; they match pkg/query Format. */
export type Format = 'time_series' | 'table';

/** Builder aggregations; they match pkg/query Aggregations. */
export const AGGREGATIONS = ['avg', 'min', 'max', 'sum', 'count', 'p50', 'p90', 'p99', 'last'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];

/** Builder filter operators; they match pkg/query Operators. */
export const OPERATORS = ['=', '!=', '<', '<=', '>', '>=', 'in', 'not in', 'like'] as const;

export interface Filter {
  field: string;
  op: string;
  value: string;
}

/** HighwayQuery is a panel target; its JSON is pkg/query.Query. */
export interface HighwayQuery extends DataQuery {
  queryType?: QueryType;
  format?: Format;
  rawSql?: string;
  feed?: string;
  metric?: string;
  aggregation?: Aggregation;
  groupBy?: string[];
  filters?: Filter[];
  interval?: string;
  limit?: number;
  job?: string;
  timeColumn?: string;
}

export const DEFAULT_QUERY: Partial<HighwayQuery> = {
  queryType: 'builder',
  aggregation: 'avg',
  format: 'time_series',
};

/** Options stored in jsonData; the URL is the datasource's url. */
export interface HighwayOptions extends DataSourceJsonData {
  tlsSkipVerify?: boolean;
  timeoutSeconds?: number;
  liveBuffer?: number;
}

/** Secrets stored in secureJsonData: never sent back to the browser. */
export interface HighwaySecureOptions {
  token?: string;
  tlsCACert?: string;
}

/** A field of a feed in the catalogue (GET resources/feeds). */
export interface FeedField {
  name: string;
  type: 'string' | 'int64' | 'float64' | 'bool' | 'time';
  unit?: string;
  description?: string;
}

/** A feed in the catalogue (GET resources/feeds). */
export interface FeedInfo {
  name: string;
  department: string;
  description?: string;
  fields: FeedField[];
  key: string[];
  event_time: string;
  freshness: string;
}

/** An analytics job (GET resources/jobs). */
export interface JobInfo {
  name: string;
  paused?: boolean;
  spec?: { department?: string; description?: string; table?: string };
}
