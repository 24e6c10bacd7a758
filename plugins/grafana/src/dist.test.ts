// @vitest-environment node
// Checks dist/module.js the way Grafana loads it: as an AMD module whose
// dependencies Grafana provides. Run after `npm run build` (test.sh does).
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = resolve(__dirname, '..', 'dist');

describe('dist', () => {
  it('has module.js and plugin.json with the backend executable', () => {
    expect(existsSync(resolve(dist, 'module.js')), 'dist/module.js missing: run npm run build').toBe(true);
    const meta = JSON.parse(readFileSync(resolve(dist, 'plugin.json'), 'utf8'));
    expect(meta).toMatchObject({
      type: 'datasource',
      id: 'cityhighway-highway-datasource',
      backend: true,
      streaming: true,
      alerting: true,
      executable: 'gpx_highway',
    });
    expect(existsSync(resolve(dist, meta.info.logos.small))).toBe(true);
  });

  it('module.js is an AMD module that exports a datasource plugin and leaves Grafana packages external', () => {
    const src = readFileSync(resolve(dist, 'module.js'), 'utf8');
    let deps: string[] = [];
    let factory: ((...args: unknown[]) => void) | undefined;
    const define = (d: string[], f: (...args: unknown[]) => void) => {
      deps = d;
      factory = f;
    };
    (define as unknown as { amd: object }).amd = {};
    new Function('define', src)(define);
    expect(deps).toEqual(expect.arrayContaining(['exports', '@grafana/data', '@grafana/ui', '@grafana/runtime', 'react']));
    expect(deps.filter((d) => !['require', 'exports', 'module'].includes(d) && !/^(@grafana\/|react|rxjs)/.test(d))).toEqual([]);

    // Grafana's SystemJS hands over its own modules; a recording stand-in is enough
    // to see the plugin object the module exports.
    class DataSourcePlugin {
      components: Record<string, unknown> = {};
      constructor(public DataSourceClass: unknown) {}
      setConfigEditor(c: unknown) {
        this.components.ConfigEditor = c;
        return this;
      }
      setQueryEditor(c: unknown) {
        this.components.QueryEditor = c;
        return this;
      }
    }
    class DataSourceWithBackend {}
    const stub = new Proxy({}, { get: (_t, p) => (p === 'DataSourcePlugin' ? DataSourcePlugin : p === 'DataSourceWithBackend' ? DataSourceWithBackend : () => null) });
    const exports: Record<string, unknown> = {};
    factory!(...deps.map((d) => (d === 'exports' ? exports : d === 'require' ? () => null : stub)));
    const plugin = exports.plugin as DataSourcePlugin;
    expect(plugin).toBeInstanceOf(DataSourcePlugin);
    expect(typeof plugin.components.ConfigEditor).toBe('function');
    expect(typeof plugin.components.QueryEditor).toBe('function');
    expect(typeof plugin.DataSourceClass).toBe('function');
  });
});
