import React, { useEffect, useMemo, useState } from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import {
  Alert,
  Button,
  IconButton,
  InlineField,
  InlineFieldRow,
  Input,
  MultiSelect,
  RadioButtonGroup,
  Select,
  TextArea,
} from '@grafana/ui';

import { HighwayDataSource } from '../datasource';
import {
  AGGREGATIONS,
  Aggregation,
  FeedInfo,
  Filter,
  Format,
  HighwayOptions,
  HighwayQuery,
  JobInfo,
  OPERATORS,
  QueryType,
} from '../types';

type Props = QueryEditorProps<HighwayDataSource, HighwayQuery, HighwayOptions>;

const QUERY_TYPES: Array<SelectableValue<QueryType>> = [
  { label: 'Builder', value: 'builder', description: 'Feed, metric, aggregation; no SQL' },
  { label: 'SQL', value: 'sql', description: 'ClickHouse SQL with $__timeFilter and other macros' },
  { label: 'Job results', value: 'jobs', description: 'Results of an analytics job' },
  { label: 'Feed health', value: 'health', description: 'Freshness of every feed' },
  { label: 'Live', value: 'live', description: 'New records of a feed as they arrive' },
];

const FORMATS: Array<SelectableValue<Format>> = [
  { label: 'Time series', value: 'time_series' },
  { label: 'Table', value: 'table' },
];

const NUMERIC = new Set(['int64', 'float64', 'bool']);
const GROUPABLE = new Set(['string', 'int64', 'bool']);

export const SQL_PLACEHOLDER =
  'SELECT $__timeGroupAlias(period_from, $__interval), avg(speed) AS speed\nFROM td_traffic_detectors\nWHERE $__timeFilter(period_from)\nGROUP BY time ORDER BY time';

/** QueryEditor edits every query type of the Highway datasource. */
export function QueryEditor({ datasource, query, onChange, onRunQuery }: Props) {
  const [feeds, setFeeds] = useState<FeedInfo[]>([]);
  const [jobs, setJobs] = useState<JobInfo[]>([]);
  const [loadError, setLoadError] = useState<string>();
  const type: QueryType = query.queryType ?? 'builder';

  useEffect(() => {
    let live = true;
    if (type === 'builder' || type === 'live') {
      datasource
        .feeds()
        .then((f) => live && setFeeds(f))
        .catch((e) => live && setLoadError(errorText(e)));
    }
    if (type === 'jobs') {
      datasource
        .jobs()
        .then((j) => live && setJobs(j))
        .catch((e) => live && setLoadError(errorText(e)));
    }
    return () => {
      live = false;
    };
  }, [datasource, type]);

  const feed = useMemo(() => feeds.find((f) => f.name === query.feed), [feeds, query.feed]);
  const change = (patch: Partial<HighwayQuery>, run = true) => {
    onChange({ ...query, ...patch });
    if (run) {
      onRunQuery();
    }
  };

  return (
    <div>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={14}>
          <RadioButtonGroup<QueryType>
            options={QUERY_TYPES}
            value={type}
            onChange={(v) => change({ queryType: v, format: v === 'builder' || v === 'jobs' ? 'time_series' : 'table' })}
          />
        </InlineField>
        {(type === 'builder' || type === 'sql' || type === 'jobs') && (
          <InlineField label="Format" labelWidth={10}>
            <RadioButtonGroup<Format>
              options={FORMATS}
              value={query.format ?? (type === 'sql' ? 'table' : 'time_series')}
              onChange={(v) => change({ format: v })}
            />
          </InlineField>
        )}
      </InlineFieldRow>
      {loadError && <Alert title="Could not load the catalogue" severity="error">{loadError}</Alert>}
      {(type === 'builder' || type === 'live') && (
        <InlineFieldRow>
          <InlineField label="Feed" labelWidth={14}>
            <NameSelect
              id="highway-feed"
              label="Feed"
              width={36}
              options={feeds.map((f) => ({ name: f.name, description: f.description }))}
              value={query.feed}
              onChange={(feed) => change({ feed, metric: undefined, groupBy: [], filters: [] }, type === 'live')}
              allowCustomValue
              placeholder="choose a feed"
            />
          </InlineField>
        </InlineFieldRow>
      )}
      {type === 'builder' && <BuilderFields query={query} feed={feed} change={change} />}
      {type === 'sql' && (
        <div>
          <TextArea
            aria-label="SQL"
            rows={8}
            placeholder={SQL_PLACEHOLDER}
            defaultValue={query.rawSql ?? ''}
            onBlur={(e: React.FocusEvent<HTMLTextAreaElement>) => change({ rawSql: e.currentTarget.value })}
          />
          <small>
            Macros: $__timeFilter(col), $__timeGroup(col, 5m), $__timeGroupAlias(col, $__interval), $__fromTime,
            $__toTime, $__interval_s. Dashboard variables: $var; multi-value variables expand to a quoted list.
          </small>
        </div>
      )}
      {type === 'jobs' && (
        <InlineFieldRow>
          <InlineField label="Job" labelWidth={14}>
            <NameSelect
              id="highway-job"
              label="Job"
              width={36}
              options={jobs.map((j) => ({ name: j.name, description: j.spec?.description }))}
              value={query.job}
              onChange={(job) => change({ job })}
              allowCustomValue
              placeholder="choose a job"
            />
          </InlineField>
          <InlineField label="Time column" labelWidth={14} tooltip="The result table's time column; default _slot, the start of the slot">
            <OptionalInput label="Time column" width={20} placeholder="_slot" value={query.timeColumn} onChange={(timeColumn) => change({ timeColumn })} />
          </InlineField>
        </InlineFieldRow>
      )}
      {type === 'health' && <small>One row per feed: freshness, latest event, age and rows, worst first.</small>}
      {type === 'live' && <small>New records of the feed appear as they reach the platform (Grafana Live).</small>}
    </div>
  );
}

interface BuilderProps {
  query: HighwayQuery;
  feed?: FeedInfo;
  change: (patch: Partial<HighwayQuery>, run?: boolean) => void;
}

function BuilderFields({ query, feed, change }: BuilderProps) {
  const fields = feed?.fields ?? [];
  const metrics = fields.filter((f) => NUMERIC.has(f.type) || query.aggregation === 'count' || query.aggregation === 'last');
  const groupable = fields.filter((f) => GROUPABLE.has(f.type));
  const filters = query.filters ?? [];
  const setFilter = (i: number, patch: Partial<Filter>) =>
    change({ filters: filters.map((f, j) => (i === j ? { ...f, ...patch } : f)) }, false);

  return (
    <div>
      <InlineFieldRow>
        <InlineField label="Metric" labelWidth={14}>
          <NameSelect
            id="highway-metric"
            label="Metric"
            width={24}
            options={metrics.map((f) => ({ name: f.name, description: f.unit }))}
            value={query.metric}
            onChange={(metric) => change({ metric })}
            placeholder="field"
          />
        </InlineField>
        <InlineField label="Aggregation" labelWidth={12}>
          <Select<Aggregation>
            inputId="highway-aggregation"
            aria-label="Aggregation"
            width={12}
            options={AGGREGATIONS.map((a) => ({ label: a, value: a }))}
            value={query.aggregation ?? 'avg'}
            onChange={(v) => change({ aggregation: v.value })}
          />
        </InlineField>
        <InlineField label="Interval" labelWidth={10} tooltip="Bucket size, e.g. 5m; empty uses the panel's interval">
          <OptionalInput label="Interval" width={10} placeholder="auto" value={query.interval} onChange={(interval) => change({ interval })} />
        </InlineField>
      </InlineFieldRow>
      <InlineFieldRow>
        <InlineField label="Group by" labelWidth={14}>
          <MultiSelect
            inputId="highway-groupby"
            aria-label="Group by"
            width={48}
            options={groupable.map((f) => ({ label: f.name, value: f.name }))}
            value={query.groupBy ?? []}
            onChange={(v: Array<SelectableValue<string>>) => change({ groupBy: v.map((x) => x.value!) })}
            placeholder="e.g. district"
          />
        </InlineField>
      </InlineFieldRow>
      {filters.map((f, i) => (
        <InlineFieldRow key={i}>
          <InlineField label={i === 0 ? 'Where' : 'And'} labelWidth={14}>
            <Select
              aria-label={`Filter ${i + 1} field`}
              width={20}
              options={fields.map((x) => ({ label: x.name, value: x.name }))}
              value={named(f.field)}
              onChange={(v) => setFilter(i, { field: v.value! })}
            />
          </InlineField>
          <Select
            aria-label={`Filter ${i + 1} operator`}
            width={10}
            options={OPERATORS.map((o) => ({ label: o, value: o }))}
            value={f.op}
            onChange={(v) => setFilter(i, { op: v.value! })}
          />
          <Input
            aria-label={`Filter ${i + 1} value`}
            width={24}
            defaultValue={f.value}
            onBlur={(e: React.FocusEvent<HTMLInputElement>) => change({ filters: filters.map((x, j) => (i === j ? { ...x, value: e.currentTarget.value } : x)) })}
          />
          <IconButton name="trash-alt" aria-label={`Remove filter ${i + 1}`} tooltip="Remove" onClick={() => change({ filters: filters.filter((_, j) => j !== i) })} />
        </InlineFieldRow>
      ))}
      <Button variant="secondary" size="sm" icon="plus" onClick={() => change({ filters: [...filters, { field: '', op: '=', value: '' }] }, false)}>
        Filter
      </Button>
    </div>
  );
}

/** named is the Select value of a name: null for none. */
function named(name?: string): SelectableValue<string> | null {
  return name ? { label: name, value: name } : null;
}

interface NameSelectProps {
  id: string;
  label: string;
  width: number;
  options: Array<{ name: string; description?: string }>;
  value?: string;
  onChange: (name?: string) => void;
  allowCustomValue?: boolean;
  placeholder: string;
}

/** NameSelect picks one name (a feed, a job, a field) from options. */
function NameSelect({ id, label, width, options, value, onChange, allowCustomValue, placeholder }: NameSelectProps) {
  return (
    <Select
      inputId={id}
      aria-label={label}
      width={width}
      options={options.map((o) => ({ label: o.name, value: o.name, description: o.description }))}
      value={named(value)}
      onChange={(v) => onChange(v.value)}
      allowCustomValue={allowCustomValue}
      placeholder={placeholder}
    />
  );
}

interface OptionalInputProps {
  label: string;
  width: number;
  placeholder: string;
  value?: string;
  onChange: (value?: string) => void;
}

/** OptionalInput edits a text that may be left empty: empty is undefined, set when the field loses focus. */
function OptionalInput({ label, width, placeholder, value, onChange }: OptionalInputProps) {
  return (
    <Input
      aria-label={label}
      width={width}
      placeholder={placeholder}
      defaultValue={value ?? ''}
      onBlur={(e: React.FocusEvent<HTMLInputElement>) => onChange(e.currentTarget.value || undefined)}
    />
  );
}

function errorText(e: unknown): string {
  if (e && typeof e === 'object') {
    const o = e as { data?: { error?: string; message?: string }; message?: string };
    return o.data?.error ?? o.data?.message ?? o.message ?? String(e);
  }
  return String(e);
}
