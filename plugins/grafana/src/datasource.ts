import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceInstanceSettings,
  MetricFindValue,
  ScopedVars,
} from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { Observable } from 'rxjs';

import { DEFAULT_QUERY, FeedInfo, HighwayOptions, HighwayQuery, JobInfo } from './types';
import { parseVariableQuery, sqlFormat } from './variables';

/**
 * HighwayDataSource sends every query to the plugin's Go backend, which talks to
 * the Highway API. Live queries come back as frames naming a Grafana Live channel,
 * which DataSourceWithBackend subscribes to.
 */
export class HighwayDataSource extends DataSourceWithBackend<HighwayQuery, HighwayOptions> {
  constructor(instanceSettings: DataSourceInstanceSettings<HighwayOptions>) {
    super(instanceSettings);
    // Annotation queries use the same editor and backend (e.g. HKO warnings as SQL).
    this.annotations = {};
  }

  getDefaultQuery(_app: CoreApp): Partial<HighwayQuery> {
    return DEFAULT_QUERY;
  }

  /** filterQuery skips hidden queries and ones not filled in yet, so panels do not show errors while editing. */
  filterQuery(q: HighwayQuery): boolean {
    if (q.hide) {
      return false;
    }
    switch (q.queryType ?? 'builder') {
      case 'sql':
        return !!q.rawSql?.trim();
      case 'builder':
      case 'live':
        return !!q.feed;
      case 'jobs':
        return !!q.job;
      default:
        return true;
    }
  }

  /** applyTemplateVariables replaces dashboard variables in every text of the query. */
  applyTemplateVariables(q: HighwayQuery, scopedVars: ScopedVars): HighwayQuery {
    const srv = getTemplateSrv();
    const text = (s?: string) => (s === undefined ? undefined : srv.replace(s, scopedVars));
    return {
      ...q,
      rawSql: q.rawSql === undefined ? undefined : srv.replace(q.rawSql, scopedVars, sqlFormat),
      feed: text(q.feed),
      metric: text(q.metric),
      job: text(q.job),
      interval: text(q.interval),
      groupBy: q.groupBy?.map((g) => srv.replace(g, scopedVars)),
      filters: q.filters?.map((f) => ({ ...f, value: srv.replace(f.value, scopedVars, 'csv') })),
    };
  }

  query(request: DataQueryRequest<HighwayQuery>): Observable<DataQueryResponse> {
    return super.query(request);
  }

  /** feeds lists the catalogue, for the editors. */
  feeds(): Promise<FeedInfo[]> {
    return this.getResource<FeedInfo[]>('feeds');
  }

  /** jobs lists the analytics jobs, for the editors. */
  jobs(): Promise<JobInfo[]> {
    return this.getResource<JobInfo[]>('jobs');
  }

  /** metricFindQuery answers variable queries: feeds(), jobs(), values(feed, field). */
  async metricFindQuery(text: string, options?: { scopedVars?: ScopedVars }): Promise<MetricFindValue[]> {
    const vq = parseVariableQuery(getTemplateSrv().replace(text, options?.scopedVars));
    switch (vq.kind) {
      case 'feeds':
        return (await this.feeds()).map((f) => ({ text: f.name, value: f.name }));
      case 'jobs':
        return (await this.jobs()).map((j) => ({ text: j.name, value: j.name }));
      case 'values': {
        const vals = await this.getResource<Array<{ text: string; value: string }>>('values', {
          feed: vq.feed,
          field: vq.field,
        });
        return vals.map((v) => ({ text: v.text, value: v.value }));
      }
    }
  }
}
