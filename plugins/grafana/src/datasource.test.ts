import { DataSourceInstanceSettings } from '@grafana/data';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const replace = vi.fn();
vi.mock('@grafana/runtime', async (orig) => {
  const actual = await orig<typeof import('@grafana/runtime')>();
  return { ...actual, getTemplateSrv: () => ({ replace }) };
});

import { HighwayDataSource } from './datasource';
import { HighwayOptions, HighwayQuery } from './types';

const settings = {
  id: 1,
  uid: 'hw',
  type: 'cityhighway-highway-datasource',
  name: 'Highway',
  meta: { id: 'cityhighway-highway-datasource' },
  jsonData: {},
  access: 'proxy',
  readOnly: false,
} as unknown as DataSourceInstanceSettings<HighwayOptions>;

describe('HighwayDataSource', () => {
  beforeEach(() => {
    replace.mockReset();
    // $district is "Sha Tin" (multi-value: ["Sha Tin", "Central"] through the formatter)
    replace.mockImplementation((text: string, _vars: unknown, format?: unknown) => {
      if (typeof format === 'function') {
        return text.replace('$district', format(['Sha Tin', 'Central'], { multi: true }));
      }
      return text.replace('$district', 'Sha Tin').replace('$feed', 'hko.weather.rainfall');
    });
  });

  it('replaces variables in SQL as quoted lists and elsewhere as text', () => {
    const ds = new HighwayDataSource(settings);
    const q: HighwayQuery = {
      refId: 'A',
      queryType: 'sql',
      rawSql: 'SELECT * FROM t WHERE district IN ($district)',
      feed: '$feed',
      filters: [{ field: 'district', op: '=', value: '$district' }],
    };
    const out = ds.applyTemplateVariables(q, {});
    expect(out.rawSql).toBe("SELECT * FROM t WHERE district IN ('Sha Tin','Central')");
    expect(out.feed).toBe('hko.weather.rainfall');
    expect(out.filters).toEqual([{ field: 'district', op: '=', value: 'Sha Tin' }]);
  });

  it.each([
    [{ refId: 'A', queryType: 'sql', rawSql: ' ' }, false],
    [{ refId: 'A', queryType: 'sql', rawSql: 'SELECT 1' }, true],
    [{ refId: 'A', queryType: 'builder' }, false],
    [{ refId: 'A', queryType: 'builder', feed: 'f' }, true],
    [{ refId: 'A', queryType: 'jobs' }, false],
    [{ refId: 'A', queryType: 'health' }, true],
    [{ refId: 'A', queryType: 'health', hide: true }, false],
  ] as Array<[HighwayQuery, boolean]>)('filterQuery(%j) is %s', (q, want) => {
    expect(new HighwayDataSource(settings).filterQuery(q)).toBe(want);
  });

  it('answers values(feed, field) from the backend resource', async () => {
    replace.mockImplementation((t: string) => t);
    const ds = new HighwayDataSource(settings);
    const getResource = vi.spyOn(ds, 'getResource').mockResolvedValue([{ text: 'Sha Tin', value: 'Sha Tin' }]);
    const vals = await ds.metricFindQuery('values(hko.weather.temperature, district)');
    expect(getResource).toHaveBeenCalledWith('values', { feed: 'hko.weather.temperature', field: 'district' });
    expect(vals).toEqual([{ text: 'Sha Tin', value: 'Sha Tin' }]);
  });

  it('answers feeds() from the catalogue', async () => {
    replace.mockImplementation((t: string) => t);
    const ds = new HighwayDataSource(settings);
    vi.spyOn(ds, 'getResource').mockResolvedValue([{ name: 'a.b' }, { name: 'c.d' }]);
    expect(await ds.metricFindQuery('feeds()')).toEqual([
      { text: 'a.b', value: 'a.b' },
      { text: 'c.d', value: 'c.d' },
    ]);
  });
});
