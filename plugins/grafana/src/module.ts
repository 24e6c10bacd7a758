import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { HighwayDataSource } from './datasource';
import { HighwayOptions, HighwayQuery } from './types';

export const plugin = new DataSourcePlugin<HighwayDataSource, HighwayQuery, HighwayOptions>(HighwayDataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
