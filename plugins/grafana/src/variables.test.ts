import { describe, expect, it } from 'vitest';

import { parseVariableQuery, sqlFormat } from './variables';

describe('parseVariableQuery', () => {
  it.each([
    ['feeds()', { kind: 'feeds' }],
    [' jobs ( ) ', { kind: 'jobs' }],
    ['values(hko.weather.temperature, station)', { kind: 'values', feed: 'hko.weather.temperature', field: 'station' }],
    ["values('td.traffic.detectors', 'district')", { kind: 'values', feed: 'td.traffic.detectors', field: 'district' }],
  ])('reads %s', (text, want) => {
    expect(parseVariableQuery(text)).toEqual(want);
  });

  it.each([
    ['stations', /not a variable query/],
    ['values(hko.weather.temperature)', /needs a feed and a field/],
    ['feeds(x)', /takes no arguments/],
    ['districts()', /unknown variable query districts/],
  ])('refuses %s with a reason', (text, reason) => {
    expect(() => parseVariableQuery(text)).toThrow(reason);
  });
});

describe('sqlFormat', () => {
  it('leaves a single value as it is', () => {
    expect(sqlFormat('Central', { multi: false })).toBe('Central');
  });
  it('quotes multi-value lists and escapes quotes', () => {
    expect(sqlFormat(['Sha Tin', "King's Park"], { multi: true })).toBe("'Sha Tin','King\\'s Park'");
  });
  it('quotes a single value of a multi-value variable', () => {
    expect(sqlFormat('Central', { multi: true })).toBe("'Central'");
  });
});
