/**
 * Variable queries of the Highway datasource, written in a variable's query box:
 *
 *   feeds()                       every feed visible to the department
 *   values(feed, field)           distinct values of a field, e.g. values(hko.weather.temperature, station)
 *   jobs()                        the analytics jobs
 */
export type VariableQuery =
  | { kind: 'feeds' }
  | { kind: 'jobs' }
  | { kind: 'values'; feed: string; field: string };

const CALL = /^\s*([a-z]+)\s*\(([^)]*)\)\s*$/i;

/** parseVariableQuery reads a variable query or throws an Error that says how to write it. */
export function parseVariableQuery(text: string): VariableQuery {
  const m = CALL.exec(text);
  if (!m) {
    throw new Error(`"${text}" is not a variable query; write feeds(), jobs() or values(feed, field)`);
  }
  const name = m[1].toLowerCase();
  const args = m[2]
    .split(',')
    .map((a) => a.trim().replace(/^['"]|['"]$/g, ''))
    .filter((a) => a !== '');
  switch (name) {
    case 'feeds':
    case 'jobs':
      if (args.length !== 0) {
        throw new Error(`${name}() takes no arguments`);
      }
      return { kind: name };
    case 'values':
      if (args.length !== 2) {
        throw new Error(`values needs a feed and a field, e.g. values(hko.weather.temperature, station); got ${args.length} argument(s)`);
      }
      return { kind: 'values', feed: args[0], field: args[1] };
    default:
      throw new Error(`unknown variable query ${name}(); write feeds(), jobs() or values(feed, field)`);
  }
}

/** sqlFormat formats a template variable's value for SQL: multi-value and "All" become a quoted list. */
export function sqlFormat(value: string | string[] | number, variable?: { multi?: boolean; includeAll?: boolean }): string {
  const quote = (v: string) => `'${String(v).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) {
    return value.map(quote).join(',');
  }
  if (variable && (variable.multi || variable.includeAll)) {
    return quote(String(value));
  }
  return String(value);
}
