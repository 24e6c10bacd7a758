import React from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { DataSourceSettings } from '@grafana/data';
import { describe, expect, it, vi } from 'vitest';

import { ConfigEditor } from './ConfigEditor';
import { HighwayOptions, HighwaySecureOptions } from '../types';

function settings(patch: Partial<DataSourceSettings<HighwayOptions, HighwaySecureOptions>> = {}) {
  return {
    id: 1,
    uid: 'hw',
    orgId: 1,
    name: 'Highway',
    type: 'cityhighway-highway-datasource',
    typeName: 'Digital Highway',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    withCredentials: false,
    readOnly: false,
    jsonData: {},
    secureJsonFields: {},
    ...patch,
  } as DataSourceSettings<HighwayOptions, HighwaySecureOptions>;
}

describe('ConfigEditor', () => {
  it('sets the API URL', () => {
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('API URL'), { target: { value: 'http://highway:8080' } });
    expect(onOptionsChange).toHaveBeenCalledWith(expect.objectContaining({ url: 'http://highway:8080' }));
  });

  it('keeps the token in secureJsonData, never in jsonData', () => {
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByLabelText('Department token'), { target: { value: 's3cret' } });
    const next = onOptionsChange.mock.calls[0][0];
    expect(next.secureJsonData).toEqual({ token: 's3cret' });
    expect(JSON.stringify(next.jsonData)).not.toContain('s3cret');
  });

  it('shows a saved token as configured and resets it', () => {
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={settings({ secureJsonFields: { token: true } })} onOptionsChange={onOptionsChange} />);
    expect(screen.getByLabelText('Department token')).toBeDisabled();
    fireEvent.click(screen.getAllByRole('button', { name: /reset/i })[0]);
    const next = onOptionsChange.mock.calls[0][0];
    expect(next.secureJsonFields.token).toBe(false);
    expect(next.secureJsonData.token).toBe('');
  });

  it('sets TLS skip verification and the timeout in jsonData', () => {
    const onOptionsChange = vi.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    fireEvent.click(screen.getByLabelText('Skip TLS verification'));
    expect(onOptionsChange.mock.calls[0][0].jsonData).toEqual({ tlsSkipVerify: true });
    fireEvent.change(screen.getByLabelText('Timeout'), { target: { value: '30' } });
    expect(onOptionsChange.mock.calls[1][0].jsonData).toEqual({ timeoutSeconds: 30 });
  });
});
