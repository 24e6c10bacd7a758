import React from 'react';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';

import { QueryEditor } from './QueryEditor';
import type { HighwayDataSource } from '../datasource';
import { FeedInfo, HighwayQuery } from '../types';

const feeds: FeedInfo[] = [
  {
    name: 'hko.weather.temperature',
    department: 'HKO',
    event_time: 'record_time',
    key: ['station'],
    freshness: 'fresh',
    fields: [
      { name: 'station', type: 'string' },
      { name: 'district', type: 'string' },
      { name: 'temperature', type: 'float64', unit: 'C' },
      { name: 'record_time', type: 'time' },
    ],
  },
  {
    name: 'td.traffic.detectors',
    department: 'TD',
    event_time: 'period_from',
    key: ['detector_id'],
    freshness: 'late',
    fields: [
      { name: 'detector_id', type: 'string' },
      { name: 'speed', type: 'float64', unit: 'km/h' },
      { name: 'period_from', type: 'time' },
    ],
  },
];

function setup(query: Partial<HighwayQuery>) {
  const datasource = {
    feeds: vi.fn().mockResolvedValue(feeds),
    jobs: vi.fn().mockResolvedValue([{ name: 'city.district_hourly' }]),
  } as unknown as HighwayDataSource;
  const onChange = vi.fn();
  const onRunQuery = vi.fn();
  render(
    <QueryEditor
      datasource={datasource}
      query={{ refId: 'A', ...query } as HighwayQuery}
      onChange={onChange}
      onRunQuery={onRunQuery}
    />
  );
  return { datasource, onChange, onRunQuery };
}

/** pick opens a react-select by its input's label and clicks an option. */
async function pick(label: string, option: string) {
  const input = screen.getByLabelText(label);
  act(() => {
    fireEvent.keyDown(input, { key: 'ArrowDown' });
  });
  fireEvent.click(await screen.findByText(option));
}

describe('QueryEditor', () => {
  it('switches the query type and its default format', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'builder' });
    fireEvent.click(screen.getByLabelText('SQL') ?? screen.getByText('SQL'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ queryType: 'sql', format: 'table' }));
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('lists the feeds of the catalogue and clears dependent fields on a new feed', async () => {
    const { datasource, onChange } = setup({ queryType: 'builder', feed: 'td.traffic.detectors', metric: 'speed', groupBy: ['detector_id'] });
    await waitFor(() => expect(datasource.feeds).toHaveBeenCalled());
    await pick('Feed', 'hko.weather.temperature');
    expect(onChange).toHaveBeenCalledWith(
      expect.objectContaining({ feed: 'hko.weather.temperature', metric: undefined, groupBy: [], filters: [] })
    );
  });

  it('offers only numeric fields as metrics', async () => {
    const { onChange } = setup({ queryType: 'builder', feed: 'hko.weather.temperature', aggregation: 'avg' });
    await screen.findByText('hko.weather.temperature');
    await waitFor(async () => {
      fireEvent.keyDown(screen.getByLabelText('Metric'), { key: 'ArrowDown' });
      expect(await screen.findByText('temperature')).toBeInTheDocument();
    }, { timeout: 10000 });
    expect(screen.queryByText('station')).not.toBeInTheDocument();
    fireEvent.click(screen.getByText('temperature'));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ metric: 'temperature' }));
  });

  it('adds a filter row', async () => {
    const { onChange } = setup({ queryType: 'builder', feed: 'hko.weather.temperature' });
    fireEvent.click(screen.getByRole('button', { name: /filter/i }));
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ filters: [{ field: '', op: '=', value: '' }] }));
  });

  it('edits SQL on blur and runs it', () => {
    const { onChange, onRunQuery } = setup({ queryType: 'sql', rawSql: '' });
    const area = screen.getByRole('textbox', { name: 'SQL' });
    fireEvent.change(area, { target: { value: 'SELECT 1' } });
    fireEvent.blur(area);
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ rawSql: 'SELECT 1' }));
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('lists jobs for job results', async () => {
    const { datasource, onChange } = setup({ queryType: 'jobs' });
    await waitFor(() => expect(datasource.jobs).toHaveBeenCalled());
    await pick('Job', 'city.district_hourly');
    expect(onChange).toHaveBeenCalledWith(expect.objectContaining({ job: 'city.district_hourly' }));
  });

  it('shows why the catalogue could not be loaded', async () => {
    const datasource = {
      feeds: vi.fn().mockRejectedValue({ data: { error: 'datasource settings: 401 token refused' } }),
      jobs: vi.fn(),
    } as unknown as HighwayDataSource;
    render(<QueryEditor datasource={datasource} query={{ refId: 'A', queryType: 'builder' }} onChange={vi.fn()} onRunQuery={vi.fn()} />);
    expect(await screen.findByText(/401 token refused/)).toBeInTheDocument();
  });
});
