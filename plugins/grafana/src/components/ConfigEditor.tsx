import React, { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Field, InlineSwitch, Input, SecretInput, SecretTextArea } from '@grafana/ui';

import { HighwayOptions, HighwaySecureOptions } from '../types';

type Props = DataSourcePluginOptionsEditorProps<HighwayOptions, HighwaySecureOptions>;

/**
 * ConfigEditor edits the datasource: the API URL, the department token (kept in
 * secureJsonData: once saved it is never sent back to the browser) and TLS options.
 */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields } = options;
  const secure = (options.secureJsonData ?? {}) as HighwaySecureOptions;

  const setJSON = (patch: Partial<HighwayOptions>) =>
    onOptionsChange({ ...options, jsonData: { ...jsonData, ...patch } });
  const setSecret = (key: keyof HighwaySecureOptions, value: string) =>
    onOptionsChange({ ...options, secureJsonData: { ...secure, [key]: value } });
  const resetSecret = (key: keyof HighwaySecureOptions) =>
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, [key]: false },
      secureJsonData: { ...secure, [key]: '' },
    });

  return (
    <div>
      <Field label="API URL" description="Base URL of the Highway API server, e.g. http://highway:8080" required>
        <Input
          id="highway-url"
          aria-label="API URL"
          width={60}
          placeholder="http://highway:8080"
          value={options.url ?? ''}
          onChange={(e: ChangeEvent<HTMLInputElement>) => onOptionsChange({ ...options, url: e.currentTarget.value })}
        />
      </Field>
      <Field label="Department token" description="From `highway token create --department <dept>`; stored encrypted" required>
        <SecretInput
          id="highway-token"
          aria-label="Department token"
          width={60}
          placeholder="paste the token"
          isConfigured={!!secureJsonFields?.token}
          value={secure.token ?? ''}
          onChange={(e: ChangeEvent<HTMLInputElement>) => setSecret('token', e.currentTarget.value)}
          onReset={() => resetSecret('token')}
        />
      </Field>
      <Field label="Skip TLS verification" description="Only for test servers with self-signed certificates">
        <InlineSwitch
          aria-label="Skip TLS verification"
          value={!!jsonData.tlsSkipVerify}
          onChange={(e: React.FormEvent<HTMLInputElement>) => setJSON({ tlsSkipVerify: e.currentTarget.checked })}
        />
      </Field>
      <Field label="CA certificate" description="PEM of the CA that signed the API's certificate, if it is not a public one">
        <SecretTextArea
          aria-label="CA certificate"
          cols={60}
          rows={4}
          placeholder="-----BEGIN CERTIFICATE-----"
          isConfigured={!!secureJsonFields?.tlsCACert}
          onChange={(e: ChangeEvent<HTMLTextAreaElement>) => setSecret('tlsCACert', e.currentTarget.value)}
          onReset={() => resetSecret('tlsCACert')}
        />
      </Field>
      <Field label="Timeout (seconds)" description="Per API call; default 60">
        <Input
          aria-label="Timeout"
          type="number"
          width={12}
          value={jsonData.timeoutSeconds ?? ''}
          onChange={(e: ChangeEvent<HTMLInputElement>) =>
            setJSON({ timeoutSeconds: e.currentTarget.value === '' ? undefined : Number(e.currentTarget.value) })
          }
        />
      </Field>
    </div>
  );
}
